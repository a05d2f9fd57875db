"""
expect: fail
mistake: Subtracts the KL: the negative ELBO is rec + kl.
keywords: sign, kl
uses: sample_gaussian, log_normal, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    x_var = torch.full_like(mean, model.x_var)
    rec = -log_normal(x, mean, x_var).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec - kl
    return nelbo, kl, rec
