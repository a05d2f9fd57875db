"""
expect: fail
mistake: replaces log q(z|x) at the sample by its expectation (minus the entropy): same gradients, but kl is no longer log q(z|x) - log p(z) at z
keywords: log q, same z, entropy
"""

import math
import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    neg_entropy = -0.5 * torch.log(2 * math.pi * math.e * v).sum(-1)
    kl = (neg_entropy - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
