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
    q = D.Independent(D.Normal(m, v.sqrt()), 1)
    z = q.rsample()

    mean = model.decode(z, y)
    likelihood = D.Independent(D.Normal(mean, math.sqrt(model.x_var)), 1)
    rec = -likelihood.log_prob(x).mean()

    pm, pv = model.prior()
    p = D.Independent(D.Normal(pm, pv.sqrt()), 1)
    kl = D.kl_divergence(q, p).mean()
    return rec + kl, kl, rec
