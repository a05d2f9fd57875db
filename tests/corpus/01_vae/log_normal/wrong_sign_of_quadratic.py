"""
expect: fail
mistake: adds the squared-distance term instead of subtracting it (sign error)
keywords: sign
"""

import math
import torch


def log_normal(x, m, v):
    log_const = -0.5 * (math.log(2 * math.pi) + torch.log(v))
    return (log_const + 0.5 * (x - m) ** 2 / v).sum(-1)
