"""
expect: fail
mistake: Returns python floats with .item(): the loss has no gradient to train with.
keywords: gradient, tensor, float
uses: sample_gaussian, log_normal, kl_normal
"""
import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)
    rec = -log_normal(x, mean, model.x_var * torch.ones_like(mean)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return (rec + kl).item(), kl.item(), rec.item()
