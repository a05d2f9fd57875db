"""
expect: fail
mistake: uses the average of the components' log-densities for log p(z) instead of log-sum-exp minus log K
keywords: logsumexp, average
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    log_p = log_normal(z.unsqueeze(1), pm, pv).mean(1)
    kl = (log_normal(z, m, v) - log_p).mean()
    return rec + kl, kl, rec
