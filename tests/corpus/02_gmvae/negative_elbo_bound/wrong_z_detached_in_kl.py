"""
expect: fail
mistake: evaluates the KL at z.detach(): the value is right but the encoder gets no gradient through the sample in the KL term
keywords: detach, gradient
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    z_const = z.detach()
    kl = (log_normal(z_const, m, v) - log_normal_mixture(z_const, pm, pv)).mean()
    return rec + kl, kl, rec
