"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def sample_gaussian(m, v):
    q = D.Independent(D.Normal(loc=m, scale=torch.sqrt(v)), 1)
    z = q.rsample()
    return z
