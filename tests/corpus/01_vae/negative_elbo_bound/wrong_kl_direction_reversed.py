"""
expect: fail
mistake: calls kl_normal(pm, pv, m, v), i.e. KL(p || q) instead of KL(q || p)
keywords: direction, order
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(pm, pv, m, v).mean()
    return rec + beta * kl, kl, rec
