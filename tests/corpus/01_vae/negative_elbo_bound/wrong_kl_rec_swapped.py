"""
expect: fail
mistake: returns (nelbo, rec, kl): the KL and reconstruction terms are in the wrong order
keywords: order, swapped
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, rec, kl
