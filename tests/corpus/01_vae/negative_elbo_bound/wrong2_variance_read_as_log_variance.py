"""
expect: fail
mistake: treats the encoder's variance as a log-variance and exponentiates it
keywords: variance, log
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, logv = model.encode(x)  # encoder returns log-variance
    v = torch.exp(logv)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
