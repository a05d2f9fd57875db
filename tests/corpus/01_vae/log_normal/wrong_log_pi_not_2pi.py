"""
expect: fail
mistake: uses log(π) instead of log(2π) for the normalising constant
keywords: log(2π), constant
"""

import math
import torch


def log_normal(x, m, v):
    return -0.5 * (math.log(math.pi) + torch.log(v) + (x - m) ** 2 / v).sum(-1)
