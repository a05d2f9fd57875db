"""
expect: fail
mistake: computes log p(z) - log q(z|x): the KL estimate has the wrong sign
keywords: sign
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    kl = (log_normal_mixture(z, pm, pv) - log_normal(z, m, v)).mean()
    return rec + kl, kl, rec
