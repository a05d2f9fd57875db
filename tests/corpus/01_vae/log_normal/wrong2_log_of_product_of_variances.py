"""
expect: fail
mistake: takes the log of the product of the variances: the product under/overflows for extreme variances (inf)
keywords: inf, extreme, overflow
"""

import math

import torch


def log_normal(x, m, v):
    x, m, v = torch.broadcast_tensors(x, m, v)
    Z = x.shape[-1]
    logdet = torch.log(torch.prod(v, dim=-1))  # log det of diag(v)
    return -0.5 * (Z * math.log(2 * math.pi) + logdet + ((x - m) ** 2 / v).sum(-1))
