"""
expect: fail
mistake: detaches the prior's parameters, so the mixture means and variances never learn
keywords: prior, detach, gradient
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    pm, pv = pm.detach(), pv.detach()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
