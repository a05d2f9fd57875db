"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal(x, m, v):
    log_norm_const = 0.5 * torch.log(2 * math.pi * v)
    mahalanobis = 0.5 * (x - m).pow(2) / v
    return -(log_norm_const + mahalanobis).sum(-1)
