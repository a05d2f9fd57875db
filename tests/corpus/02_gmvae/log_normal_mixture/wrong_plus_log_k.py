"""
expect: fail
mistake: adds log K instead of subtracting it
keywords: log k, sign
"""

import math
import torch


def log_normal_mixture(z, m, v):
    K = m.shape[1]
    return torch.logsumexp(log_normal(z.unsqueeze(1), m, v), dim=1) + math.log(K)
