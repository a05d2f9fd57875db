"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def log_normal_mixture(z, m, v):
    m, v = m[0], v[0]                                             # (K, Z)
    K = m.shape[0]
    weights = D.Categorical(logits=torch.zeros(K, dtype=m.dtype, device=m.device))
    components = D.Independent(D.Normal(m, v.sqrt()), 1)
    mixture = D.MixtureSameFamily(weights, components)
    return mixture.log_prob(z)
