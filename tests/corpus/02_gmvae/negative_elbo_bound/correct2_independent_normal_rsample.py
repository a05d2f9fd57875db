"""
expect: pass
mistake:
keywords:
"""

import torch.distributions as D


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    q = D.Independent(D.Normal(m, v.sqrt()), 1)
    z = q.rsample()
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = (q.log_prob(z) - log_normal_mixture(z, *model.prior())).mean()
    return rec + kl, kl, rec
