"""
expect: pass
mistake:
keywords:
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    z = torch.empty_like(m).normal_().mul_(v.sqrt()).add_(m)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    nelbo = rec + beta * kl
    return nelbo, kl, rec
