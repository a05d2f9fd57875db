"""
expect: pass
mistake:
keywords:
uses:
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = m + torch.sqrt(v) * torch.randn(m.shape[0], m.shape[1], dtype=m.dtype, device=m.device)
    mean = model.decode(z, y)
    s2, D = model.x_var, x.shape[-1]
    rec = (0.5 * ((x - mean) ** 2).sum(-1) / s2 + 0.5 * D * math.log(2 * math.pi * s2)).mean()
    pm, pv = model.prior()
    kl = 0.5 * (pv.log() - v.log() + (v + (m - pm) ** 2) / pv - 1).sum(-1).mean()
    return rec + kl, kl, rec
