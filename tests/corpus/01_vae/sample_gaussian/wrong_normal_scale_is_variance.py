"""
expect: fail
mistake: passes the variance v as the scale of D.Normal, which expects a standard deviation
keywords: sqrt, scale
"""

import torch
import torch.distributions as D


def sample_gaussian(m, v):
    return D.Normal(m, v).rsample()
