"""
expect: pass
mistake:
keywords:
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    """Negative ELBO of a VAE with an analytic KL, and its two terms."""
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    logits = model.decode(z)
    rec = -log_bernoulli_with_logits(x, logits).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    nelbo = rec + beta * kl
    return nelbo, kl, rec
