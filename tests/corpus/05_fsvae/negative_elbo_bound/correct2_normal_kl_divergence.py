"""
expect: pass
mistake:
keywords:
uses:
"""
import math

import torch
import torch.distributions as D


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    q = D.Normal(m, v.sqrt())
    z = q.rsample()
    mean = model.decode(z, y)
    rec = -D.Normal(mean, math.sqrt(model.x_var)).log_prob(x).sum(-1).mean()
    pm, pv = model.prior()
    kl = D.kl_divergence(q, D.Normal(pm.expand_as(m), pv.sqrt().expand_as(v))).sum(-1).mean()
    return rec + kl, kl, rec
