"""
expect: fail
mistake: draws one noise vector for the whole batch: the images' samples are not independent
keywords: independent, batch, same
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    eps = torch.randn(m.shape[1], dtype=m.dtype, device=m.device)  # one draw, broadcast over the batch
    z = m + v.sqrt() * eps
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + beta * kl, kl, rec
