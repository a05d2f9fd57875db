"""
expect: fail
mistake: keeps the component dimension: returns shape (B, 1) instead of (B,)
keywords: shape
"""

import math

import torch


def log_normal_mixture(z, m, v):
    comps = log_normal(z.unsqueeze(1), m, v)
    return torch.logsumexp(comps, dim=1, keepdim=True) - math.log(m.shape[1])
