"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def negative_elbo_bound(model, x):
    S = 1  # samples per image
    m, v = model.encode(x)
    pm, pv = model.prior()
    eps = torch.randn((S,) + tuple(m.shape), dtype=m.dtype, device=m.device)
    z = m + torch.sqrt(v) * eps                                   # (S, B, Z)
    logits = model.decode(z)                                      # (S, B, D)
    rec = -log_bernoulli_with_logits(x.expand_as(logits), logits)  # (S, B)
    log_q = log_normal(z, m, v)                                   # (S, B)
    log_p = torch.logsumexp(log_normal(z.unsqueeze(-2), pm, pv), dim=-1) - math.log(pm.shape[1])
    kl = log_q - log_p
    rec, kl = rec.mean(), kl.mean()
    return rec + kl, kl, rec
