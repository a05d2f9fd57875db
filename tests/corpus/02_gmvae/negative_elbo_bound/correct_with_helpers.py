"""
expect: pass
mistake:
keywords:
"""

import torch


def negative_elbo_bound(model, x):
    """Negative ELBO of a GMVAE, with a single-sample Monte Carlo estimate of the KL."""
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    logits = model.decode(z)
    rec = -log_bernoulli_with_logits(x, logits)
    pm, pv = model.prior()
    kl = log_normal(z, m, v) - log_normal_mixture(z, pm, pv)
    rec, kl = rec.mean(), kl.mean()
    return rec + kl, kl, rec
