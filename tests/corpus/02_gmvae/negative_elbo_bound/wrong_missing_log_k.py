"""
expect: fail
mistake: evaluates the mixture without the -log K of the uniform weights: the KL is log K too small
keywords: log k, weights
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    log_p = torch.logsumexp(log_normal(z.unsqueeze(1), pm, pv), dim=1)
    kl = (log_normal(z, m, v) - log_p).mean()
    return rec + kl, kl, rec
