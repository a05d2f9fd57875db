"""
expect: fail
mistake: Decodes the encoder mean m instead of a reparameterised sample z ~ q(z|x, y): the reconstruction term is not the expectation under q.
keywords: sample, reparameterisation
uses: log_normal, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = m
    mean = model.decode(z, y)

    x_var = torch.full_like(mean, model.x_var)
    rec = -log_normal(x, mean, x_var).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec + kl
    return nelbo, kl, rec
