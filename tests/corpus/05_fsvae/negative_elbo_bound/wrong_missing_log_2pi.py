"""
expect: fail
mistake: The reconstruction term keeps log(variance) but drops the log(2 pi) part of the Gaussian normalising constant: off by D/2 log(2 pi).
keywords: log(2π), constant
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
    rec = (((x - mean) ** 2).sum(-1) / (2 * model.x_var) + 0.5 * D * math.log(model.x_var)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec + kl
    return nelbo, kl, rec
