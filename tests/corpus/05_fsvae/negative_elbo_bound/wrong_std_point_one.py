"""
expect: fail
mistake: Passes model.x_var = 0.1 as the scale (standard deviation) of D.Normal: the likelihood then has variance 0.01 instead of 0.1.
keywords: variance, standard deviation
uses: sample_gaussian, kl_normal
"""
import torch
import torch.distributions as D


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    rec = -D.Normal(mean, model.x_var).log_prob(x).sum(-1).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + kl, kl, rec
