"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    B = x.shape[0]
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="sum") / B
    pm, pv = model.prior()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, pm, pv)).sum() / B
    return rec + kl, kl, rec
