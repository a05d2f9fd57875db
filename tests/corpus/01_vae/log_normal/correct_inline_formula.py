"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal(x, m, v):
    """log N(x; m, diag(v)), summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + torch.log(v) + (x - m) ** 2 / v).sum(-1)
