"""
expect: fail
mistake: converts the terms with .item(): the outputs are Python floats with no gradient
keywords: item, gradient, tensor
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean().item()
    kl = kl_normal(m, v, pm, pv).mean().item()
    return rec + beta * kl, kl, rec
