"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    q = D.Independent(D.Normal(m, v.sqrt()), 1)
    p = D.Independent(D.Normal(pm, pv.sqrt()), 1)
    z = q.rsample()
    px = D.Independent(D.Bernoulli(logits=model.decode(z), validate_args=False), 1)
    rec = -px.log_prob(x).mean()
    kl = D.kl_divergence(q, p).mean()
    nelbo = rec + beta * kl
    return nelbo, kl, rec
