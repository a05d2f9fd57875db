"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x, beta=1.0):
    batch_size = x.shape[0]
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    logits = model.decode(z)
    # sum over pixels and images, then divide by the number of images
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / batch_size
    kl = kl_normal(m, v, pm, pv).sum() / batch_size
    nelbo = rec + beta * kl
    return nelbo, kl, rec
