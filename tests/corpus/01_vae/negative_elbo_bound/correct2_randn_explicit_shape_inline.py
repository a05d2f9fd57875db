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
    z = m + torch.sqrt(v) * eps
    logits = model.decode(z)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).mean()
    kl = (0.5 * (torch.log(pv) - torch.log(v) + (v + (m - pm) ** 2) / pv - 1)).sum(1).mean()
    return rec + beta * kl, kl, rec
