"""
expect: fail
mistake: does not give z a component axis: (B, Z) against (1, K, Z) pairs point b with component b (or fails when B != K)
keywords: unsqueeze, shape, broadcast
"""

import math
import torch


def log_normal_mixture(z, m, v):
    l = log_normal(z, m, v)
    return torch.logsumexp(l, dim=-1) - math.log(m.shape[1])
