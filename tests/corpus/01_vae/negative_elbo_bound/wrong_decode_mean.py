"""
expect: fail
mistake: decodes the mean m instead of a sample z ~ q(z|x): the reconstruction term is not a sample of the ELBO
keywords: sample, reparameterisation
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    rec = -log_bernoulli_with_logits(x, model.decode(m)).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
