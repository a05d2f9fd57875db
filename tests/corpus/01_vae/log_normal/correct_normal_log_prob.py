"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def log_normal(x, m, v):
    return D.Normal(m, torch.sqrt(v)).log_prob(x).sum(dim=-1)
