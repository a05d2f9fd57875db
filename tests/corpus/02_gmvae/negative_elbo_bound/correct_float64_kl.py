"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    # the mixture in double precision, cast back at the end
    z64, m64, v64 = z.double(), m.double(), v.double()
    log_q = -0.5 * (torch.log(2 * math.pi * v64) + (z64 - m64) ** 2 / v64).sum(-1)
    l = -0.5 * (torch.log(2 * math.pi * pv.double())
                + (z64.unsqueeze(1) - pm.double()) ** 2 / pv.double()).sum(-1)
    log_p = torch.logsumexp(l, dim=1) - math.log(pm.shape[1])
    kl = (log_q - log_p).mean().to(rec.dtype)
    return rec + kl, kl, rec
