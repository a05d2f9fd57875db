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
    z = m + torch.sqrt(v) * torch.randn_like(m)
    logits = model.decode(z)
    log_px = (x * logits - F.softplus(logits)).sum(-1)
    kl_per_image = 0.5 * (torch.log(pv) - torch.log(v) + (v + (m - pm) ** 2) / pv - 1).sum(-1)
    rec = -log_px.mean()
    kl = kl_per_image.mean()
    return rec + beta * kl, kl, rec
