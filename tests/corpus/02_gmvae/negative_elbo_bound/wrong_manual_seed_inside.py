"""
expect: fail
mistake: calls torch.manual_seed inside the objective: every step reuses the same noise
keywords: seed
"""

import torch


def negative_elbo_bound(model, x):
    torch.manual_seed(42)
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
