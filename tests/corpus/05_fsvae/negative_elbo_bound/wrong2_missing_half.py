"""
expect: fail
mistake: Forgets the factor 1/2 of the Gaussian log-density: rec is twice too large.
keywords: factor, 2, half
uses: sample_gaussian, log_normal, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)
    s2 = model.x_var
    rec = (((x - mean) ** 2) / s2 + math.log(2 * math.pi * s2)).sum(-1).mean()  # forgot the 1/2
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + kl, kl, rec
