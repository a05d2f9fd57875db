"""
expect: fail
mistake: subtracts log K twice (once inside the logsumexp and once outside): off by the constant log K
keywords: log k, constant
"""

import math

import torch


def log_normal_mixture(z, m, v):
    K = m.shape[1]
    comps = log_normal(z.unsqueeze(1), m, v) - math.log(K)  # weight 1/K
    return torch.logsumexp(comps, dim=1) - math.log(K)
