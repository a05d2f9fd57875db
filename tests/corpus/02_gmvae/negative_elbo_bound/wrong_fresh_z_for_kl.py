"""
expect: fail
mistake: draws a second sample for the KL: the KL must be evaluated at the same z as the reconstruction
keywords: same z, sample
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    z_kl = sample_gaussian(m, v)
    kl = (log_normal(z_kl, m, v) - log_normal_mixture(z_kl, pm, pv)).mean()
    return rec + kl, kl, rec
