"""
expect: pass
mistake:
keywords:
"""

import math
import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = m + v.sqrt() * torch.randn_like(m)
    logits = model.decode(z)
    rec = -(x * logits - F.softplus(logits)).sum(-1)
    log_q = -0.5 * (math.log(2 * math.pi) + torch.log(v) + (z - m) ** 2 / v).sum(-1)
    pm, pv = model.prior()
    zk = z.unsqueeze(1)
    log_pk = -0.5 * (math.log(2 * math.pi) + torch.log(pv) + (zk - pm) ** 2 / pv).sum(-1)
    log_p = torch.logsumexp(log_pk, dim=1) - math.log(pm.shape[1])
    kl = (log_q - log_p).mean()
    rec = rec.mean()
    return rec + kl, kl, rec
