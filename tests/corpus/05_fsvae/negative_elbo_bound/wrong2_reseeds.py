"""
expect: fail
mistake: Reseeds the global RNG inside the loss: every call draws the same noise and resets the user's random stream.
keywords: seed, random
uses: sample_gaussian, log_normal, kl_normal
"""
import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    torch.manual_seed(0)  # reproducible
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)
    rec = -log_normal(x, mean, model.x_var * torch.ones_like(mean)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + kl, kl, rec
