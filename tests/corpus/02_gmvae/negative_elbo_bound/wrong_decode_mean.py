"""
expect: fail
mistake: decodes the encoder mean m instead of the sample z, so rec and kl are not at the same sample
keywords: sample, same z
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(m)).mean()
    pm, pv = model.prior()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
