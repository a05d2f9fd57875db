"""
expect: fail
mistake: samples z inside torch.no_grad(): no reparameterised gradient reaches the encoder through z
keywords: no_grad, gradient
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    with torch.no_grad():
        z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
