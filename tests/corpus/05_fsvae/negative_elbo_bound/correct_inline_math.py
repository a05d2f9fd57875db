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
    z = m + torch.sqrt(v) * torch.randn_like(m)
    mean = model.decode(z, y)

    var = model.x_var
    D = x.shape[-1]
    # -log N(x; mean, var I) = ||x - mean||^2 / (2 var) + D/2 log(2 pi var)
    rec = ((x - mean) ** 2).sum(-1) / (2 * var) + 0.5 * D * math.log(2 * math.pi * var)

    pm, pv = model.prior()
    kl = 0.5 * (torch.log(pv) - torch.log(v) + (v + (m - pm) ** 2) / pv - 1).sum(-1)

    rec, kl = rec.mean(), kl.mean()
    return rec + kl, kl, rec
