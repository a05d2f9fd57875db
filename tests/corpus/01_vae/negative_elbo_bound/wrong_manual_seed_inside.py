"""
expect: fail
mistake: calls torch.manual_seed inside the objective: every step reuses the same noise
keywords: seed
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    torch.manual_seed(0)
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
