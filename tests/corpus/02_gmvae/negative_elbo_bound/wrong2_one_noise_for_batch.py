"""
expect: fail
mistake: draws one noise vector for the whole batch: the images' samples are not independent
keywords: independent, batch, same
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = m + v.sqrt() * torch.randn(1, m.shape[1], dtype=m.dtype, device=m.device)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
