"""
expect: fail
mistake: decodes z.detach(): the reconstruction term sends no gradient to the encoder
keywords: detach, gradient, encoder
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v).detach()
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
