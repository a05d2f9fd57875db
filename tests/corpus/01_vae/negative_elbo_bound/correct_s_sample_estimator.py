"""
expect: pass
mistake:
keywords:
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    S = 1  # samples per image; works for any S
    m, v = model.encode(x)
    pm, pv = model.prior()
    eps = torch.randn((S,) + tuple(m.shape), dtype=m.dtype, device=m.device)
    z = m + v.sqrt() * eps                      # (S, B, Z)
    logits = model.decode(z)                    # (S, B, D)
    log_px = log_bernoulli_with_logits(x.expand_as(logits), logits)  # (S, B)
    rec = -log_px.mean(0).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
