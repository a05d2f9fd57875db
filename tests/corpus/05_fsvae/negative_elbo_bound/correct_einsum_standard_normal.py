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
    eps = torch.randn(m.shape, dtype=m.dtype, device=m.device)
    z = m + eps * v ** 0.5
    mean = model.decode(z, y)

    diff = x - mean
    sq = torch.einsum("bd,bd->b", diff, diff)
    n_pix = diff.shape[1]
    rec = 0.5 * sq / model.x_var + 0.5 * n_pix * (math.log(2 * math.pi) + math.log(model.x_var))

    # p(z) = N(0, I)
    kl = 0.5 * torch.sum(m ** 2 + v - torch.log(v) - 1, dim=1)
    return (rec + kl).mean(), kl.mean(), rec.mean()
