"""
expect: fail
mistake: sums both terms over the batch instead of averaging
keywords: sum, batch, mean
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).sum()
    pm, pv = model.prior()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, pm, pv)).sum()
    return rec + kl, kl, rec
