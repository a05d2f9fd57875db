"""
expect: fail
mistake: Samples z = m + v * eps, treating the encoder's variance as a standard deviation.
keywords: variance, sqrt
uses: log_normal, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = m + v * torch.randn_like(m)
    mean = model.decode(z, y)

    x_var = torch.full_like(mean, model.x_var)
    rec = -log_normal(x, mean, x_var).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec + kl
    return nelbo, kl, rec
