"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal(x, m, v):
    std = torch.sqrt(v)
    u = (x - m) / std
    per_dim = -0.5 * u ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)
    return per_dim.sum(dim=-1)
