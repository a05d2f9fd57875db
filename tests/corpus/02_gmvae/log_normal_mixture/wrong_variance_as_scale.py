"""
expect: fail
mistake: builds the components as D.Normal(m, v), passing variances where standard deviations are expected
keywords: sqrt, standard deviation
"""

import torch
import torch.distributions as D


def log_normal_mixture(z, m, v):
    K = m.shape[1]
    mix = D.Categorical(logits=torch.zeros(K))
    comp = D.Independent(D.Normal(m[0], v[0]), 1)
    return D.MixtureSameFamily(mix, comp).log_prob(z)
