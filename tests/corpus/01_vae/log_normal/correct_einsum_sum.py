"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal(x, m, v):
    diff = x - m
    quad = diff * diff / v
    terms = -0.5 * (quad + torch.log(v) + math.log(2 * math.pi))
    return torch.einsum("...z->...", terms)
