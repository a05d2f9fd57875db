"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def log_normal(x, m, v):
    dist = D.Independent(D.Normal(m, v.sqrt()), 1)
    return dist.log_prob(x)
