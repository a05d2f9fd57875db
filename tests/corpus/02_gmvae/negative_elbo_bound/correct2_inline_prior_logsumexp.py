"""
expect: pass
mistake:
keywords:
"""

import math

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    eps = torch.randn(m.shape, dtype=m.dtype, device=m.device)
    z = m + v.sqrt() * eps
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()  # (1, K, Z)
    log_comp = -0.5 * (math.log(2 * math.pi) + pv.log() + (z[:, None] - pm) ** 2 / pv).sum(-1)  # (B, K)
    log_p = torch.logsumexp(log_comp, dim=1) - math.log(pm.shape[1])
    log_q = -0.5 * (math.log(2 * math.pi) + v.log() + eps**2).sum(-1)
    kl = (log_q - log_p).mean()
    return rec + kl, kl, rec
