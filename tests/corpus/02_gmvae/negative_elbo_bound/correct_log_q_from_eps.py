"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    eps = torch.randn_like(m)
    z = m + v.sqrt() * eps
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    # at z = m + sqrt(v) * eps, (z - m)^2 / v is exactly eps^2
    log_q = -0.5 * (torch.log(2 * math.pi * v) + eps ** 2).sum(-1)
    pm, pv = model.prior()
    kl = (log_q - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
