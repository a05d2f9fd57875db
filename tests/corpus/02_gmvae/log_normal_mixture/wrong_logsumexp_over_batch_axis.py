"""
expect: fail
mistake: takes the log-sum-exp over dim=0 (the batch) instead of the component axis
keywords: axis, dim, component
"""

import math
import torch


def log_normal_mixture(z, m, v):
    l = log_normal(z.unsqueeze(1), m, v)                          # (B, K)
    return torch.logsumexp(l, dim=0) - math.log(m.shape[1])
