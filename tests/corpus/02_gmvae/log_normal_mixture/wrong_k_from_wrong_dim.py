"""
expect: fail
mistake: reads K from m.shape[0], which is 1 for (1, K, Z) means, so log K is 0
keywords: log k, shape
"""

import math
import torch


def log_normal_mixture(z, m, v):
    K = m.shape[0]
    l = log_normal(z.unsqueeze(1), m, v)
    return torch.logsumexp(l, dim=1) - math.log(K)
