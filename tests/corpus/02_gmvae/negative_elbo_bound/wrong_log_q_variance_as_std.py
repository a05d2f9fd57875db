"""
expect: fail
mistake: computes log q(z|x) with D.Normal(m, v), passing the variance as the standard deviation
keywords: sqrt, standard deviation
"""

import torch
import torch.distributions as D


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    log_q = D.Normal(m, v).log_prob(z).sum(-1)
    kl = (log_q - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
