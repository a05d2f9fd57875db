"""
expect: fail
mistake: averages the KL over the latent coordinates instead of summing them
keywords: sum, latent
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = 0.5 * (torch.log(pv / v) + (v + (m - pm) ** 2) / pv - 1).mean()
    return rec + beta * kl, kl, rec
