"""
expect: fail
mistake: subtracts Z log K instead of log K: the weight 1/K applies once per point, not per coordinate
keywords: log k, constant
"""

import math

import torch


def log_normal_mixture(z, m, v):
    K, Z = m.shape[1], m.shape[2]
    comps = log_normal(z.unsqueeze(1), m, v)
    return torch.logsumexp(comps, dim=1) - Z * math.log(K)  # 1/K for every coordinate
