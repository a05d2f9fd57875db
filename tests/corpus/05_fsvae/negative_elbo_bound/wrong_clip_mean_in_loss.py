"""
expect: fail
mistake: Clips the decoded mean to [0, 1] inside the loss: clipping is only for pictures; here it changes the bound and stops the gradient wherever the mean leaves [0, 1].
keywords: clip, mean
uses: sample_gaussian, log_normal, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = torch.clip(model.decode(z, y), 0, 1)

    x_var = torch.full_like(mean, model.x_var)
    rec = -log_normal(x, mean, x_var).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec + kl
    return nelbo, kl, rec
