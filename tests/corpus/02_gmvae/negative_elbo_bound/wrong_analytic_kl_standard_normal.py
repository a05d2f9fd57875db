"""
expect: fail
mistake: uses chapter 1's analytic KL against N(0, I) instead of a Monte Carlo estimate against the mixture prior
keywords: monte carlo, mixture, prior
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = 0.5 * (m ** 2 + v - torch.log(v) - 1).sum(-1).mean()
    return rec + kl, kl, rec
