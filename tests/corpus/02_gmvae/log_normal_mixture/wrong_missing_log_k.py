"""
expect: fail
mistake: forgets to subtract log K: the mixture weights 1/K are missing
keywords: log k, weights
"""

import torch


def log_normal_mixture(z, m, v):
    return torch.logsumexp(log_normal(z.unsqueeze(1), m, v), dim=1)
