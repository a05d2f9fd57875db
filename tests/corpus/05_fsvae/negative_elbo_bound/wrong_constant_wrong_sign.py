"""
expect: fail
mistake: The sign of the normalising constant is flipped: -log N(x; mean, var) has + D/2 log(2 pi var), not minus.
keywords: constant, sign
uses: sample_gaussian, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    x_var = torch.full_like(mean, model.x_var)
    D = x.shape[-1]
    rec = (((x - mean) ** 2).sum(-1) / (2 * model.x_var) - 0.5 * D * math.log(2 * math.pi * model.x_var)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec + kl
    return nelbo, kl, rec
