"""
expect: fail
mistake: passes the variance v as the scale of D.Normal, which expects a standard deviation
keywords: sqrt, standard deviation
"""

import torch
import torch.distributions as D


def log_normal(x, m, v):
    return D.Normal(m, v).log_prob(x).sum(-1)
