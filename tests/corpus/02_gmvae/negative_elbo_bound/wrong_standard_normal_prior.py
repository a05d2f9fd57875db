"""
expect: fail
mistake: evaluates log p(z) under N(0, I) instead of the mixture prior from model.prior()
keywords: prior, mixture
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    log_p = log_normal(z, torch.zeros_like(z), torch.ones_like(z))
    kl = (log_normal(z, m, v) - log_p).mean()
    return rec + kl, kl, rec
