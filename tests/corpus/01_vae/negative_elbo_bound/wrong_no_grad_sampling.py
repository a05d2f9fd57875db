"""
expect: fail
mistake: samples z inside torch.no_grad(): the reparameterisation is lost and the encoder gets no gradient from rec
keywords: no_grad, gradient
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    with torch.no_grad():
        z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
