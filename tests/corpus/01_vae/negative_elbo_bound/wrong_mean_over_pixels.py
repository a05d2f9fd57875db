"""
expect: fail
mistake: uses binary_cross_entropy_with_logits with reduction='mean', averaging over pixels as well: rec is about D times too small
keywords: pixels, sum
"""

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = F.binary_cross_entropy_with_logits(model.decode(z), x)
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
