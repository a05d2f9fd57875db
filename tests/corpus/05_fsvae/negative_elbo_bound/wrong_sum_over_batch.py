"""
expect: fail
mistake: Sums rec and kl over the batch instead of averaging: the objective is in nats per image.
keywords: sum, batch, mean
uses: sample_gaussian, log_normal, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    x_var = torch.full_like(mean, model.x_var)
    rec = -log_normal(x, mean, x_var).sum()
    kl = kl_normal(m, v, *model.prior()).sum()
    nelbo = rec + kl
    return nelbo, kl, rec
