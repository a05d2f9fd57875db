"""
expect: fail
mistake: sums over dim=1 instead of the last dimension: right for (B, Z) inputs, wrong for (B, 1, Z) against (1, K, Z)
keywords: last dimension, dim=-1
"""

import math
import torch


def log_normal(x, m, v):
    return -0.5 * (math.log(2 * math.pi) + torch.log(v) + (x - m) ** 2 / v).sum(dim=1)
