"""
expect: fail
mistake: Applies a sigmoid to the decoder output: the FSVAE decoder returns the Gaussian mean itself, not logits.
keywords: sigmoid, mean
uses: sample_gaussian, log_normal, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = torch.sigmoid(model.decode(z, y))

    x_var = torch.full_like(mean, model.x_var)
    rec = -log_normal(x, mean, x_var).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec + kl
    return nelbo, kl, rec
