"""
expect: fail
mistake: multiplies the reconstruction term by beta instead of the KL
keywords: beta
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    nelbo = beta * rec + kl
    return nelbo, kl, rec
