"""
expect: fail
mistake: Returns per-image values of shape (B,) instead of batch means (scalars).
keywords: shape, scalar, mean
uses: sample_gaussian, log_normal, kl_normal
"""
import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)
    rec = -log_normal(x, mean, model.x_var * torch.ones_like(mean))
    kl = kl_normal(m, v, *model.prior())
    return rec + kl, kl, rec
