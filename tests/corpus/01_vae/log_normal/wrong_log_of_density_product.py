"""
expect: fail
mistake: takes the log of the product of the densities: the product underflows to 0 (log = -inf) for many dimensions or far points
keywords: underflow, log
"""

import math
import torch


def log_normal(x, m, v):
    pdf = torch.exp(-(x - m) ** 2 / (2 * v)) / torch.sqrt(2 * math.pi * v)
    return torch.log(torch.prod(pdf, dim=-1))
