"""
expect: fail
mistake: computes the reconstruction through log(sigmoid(logits)): -inf/NaN for confident logits
keywords: sigmoid, logits, stable
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    p = torch.sigmoid(model.decode(z))
    rec = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
