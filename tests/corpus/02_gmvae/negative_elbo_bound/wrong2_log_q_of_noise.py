"""
expect: fail
mistake: uses the density of the noise eps as log q(z|x): misses the -0.5 sum log v term of the change of variables
keywords: variance, log q, entropy
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    eps = torch.randn_like(m)
    z = m + v.sqrt() * eps
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    log_q = log_normal(eps, torch.zeros_like(m), torch.ones_like(v))  # density of the noise
    kl = (log_q - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
