"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    eps = torch.randn(m.shape, dtype=m.dtype, device=m.device)
    z = m + v.sqrt() * eps
    logits = model.decode(z)
    rec_per = F.softplus(logits).sum(-1) - torch.einsum("bd,bd->b", x, logits)
    diff = m - pm
    kl_per = 0.5 * (torch.einsum("bz,bz->b", diff, diff / pv)
                    + (torch.log(pv) - torch.log(v) + v / pv - 1).sum(-1))
    rec, kl = rec_per.mean(), kl_per.mean()
    return rec + beta * kl, kl, rec
