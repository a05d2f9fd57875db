"""
expect: fail
mistake: Uses only the scaled squared error ||x - mean||^2 / (2 var) and leaves out the normalising constant D/2 log(2 pi var): not a log-likelihood.
keywords: constant
uses: sample_gaussian, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    x_var = torch.full_like(mean, model.x_var)
    rec = (((x - mean) ** 2).sum(-1) / (2 * model.x_var)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec + kl
    return nelbo, kl, rec
