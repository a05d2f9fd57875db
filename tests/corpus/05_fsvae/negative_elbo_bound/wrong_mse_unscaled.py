"""
expect: fail
mistake: Uses the plain sum of squared errors as rec: without the 1/(2 var) = 5 scale and the constant it is not the Gaussian negative log-likelihood.
keywords: scale, variance, constant
uses: sample_gaussian, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    x_var = torch.full_like(mean, model.x_var)
    rec = ((x - mean) ** 2).sum(dim=1).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec + kl
    return nelbo, kl, rec
