"""
expect: fail
mistake: hard-codes the KL against N(0, I) instead of using model.prior()
keywords: prior
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = 0.5 * (m ** 2 + v - torch.log(v) - 1).sum(-1).mean()
    return rec + beta * kl, kl, rec
