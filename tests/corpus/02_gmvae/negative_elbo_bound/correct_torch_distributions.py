"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    q = D.Independent(D.Normal(m, v.sqrt()), 1)
    z = q.rsample()
    px = D.Independent(D.Bernoulli(logits=model.decode(z), validate_args=False), 1)
    pm, pv = model.prior()
    K = pm.shape[1]
    prior = D.MixtureSameFamily(
        D.Categorical(logits=torch.zeros(K, dtype=pm.dtype, device=pm.device)),
        D.Independent(D.Normal(pm[0], pv[0].sqrt()), 1),
    )
    rec = -px.log_prob(x).mean()
    kl = (q.log_prob(z) - prior.log_prob(z)).mean()
    return rec + kl, kl, rec
