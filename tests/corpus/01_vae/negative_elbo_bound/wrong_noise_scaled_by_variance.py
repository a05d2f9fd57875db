"""
expect: fail
mistake: samples z = m + v * eps: the noise is scaled by the variance instead of sqrt(v)
keywords: sqrt, standard deviation
"""

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = m + v * torch.randn_like(m)
    logits = model.decode(z)
    rec = -(x * logits - F.softplus(logits)).sum(-1).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
