"""
expect: pass
mistake:
keywords:
"""

import torch.distributions as D
import torch.nn.functional as F


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    q = D.Normal(m, v.sqrt())
    z = q.rsample()
    B = x.shape[0]
    rec = F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="sum") / B
    kl = D.kl_divergence(q, D.Normal(pm, pv.sqrt())).sum() / B
    nelbo = rec + beta * kl
    return nelbo, kl, rec
