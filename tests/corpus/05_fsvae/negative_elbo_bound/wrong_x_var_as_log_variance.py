"""
expect: fail
mistake: Treats model.x_var as a log-variance and exponentiates it: the variance is 0.1 itself, not exp(0.1).
keywords: variance, x_var
uses: sample_gaussian, log_normal, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    x_var = torch.full_like(mean, math.exp(model.x_var))
    rec = -log_normal(x, mean, x_var).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec + kl
    return nelbo, kl, rec
