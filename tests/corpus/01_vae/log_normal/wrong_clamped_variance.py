"""
expect: fail
mistake: clamps the variance to at least 1e-6, which changes the density whenever v < 1e-6 (the encoder's floor is 1e-8)
keywords: clamp
"""

import math
import torch


def log_normal(x, m, v):
    v = v.clamp(min=1e-6)  # avoid division by zero
    return -0.5 * (math.log(2 * math.pi) + torch.log(v) + (x - m) ** 2 / v).sum(-1)
