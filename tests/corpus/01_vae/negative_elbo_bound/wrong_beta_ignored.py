"""
expect: fail
mistake: ignores beta: nelbo = rec + kl whatever beta is
keywords: beta
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + kl, kl, rec
