"""
expect: pass
mistake:
keywords:
"""

import math

import torch


def log_normal(x, m, v):
    log_std = 0.5 * torch.log(v)
    u = (x - m) * torch.exp(-log_std)
    return (-log_std - 0.5 * math.log(2 * math.pi) - 0.5 * u.square()).sum(dim=-1)
