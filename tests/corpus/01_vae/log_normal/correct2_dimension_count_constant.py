"""
expect: pass
mistake:
keywords:
"""

import math

import torch


def log_normal(x, m, v):
    x, m, v = torch.broadcast_tensors(x, m, v)
    Z = x.shape[-1]
    quad = ((x - m) ** 2 / v).sum(-1)
    logdet = torch.log(v).sum(-1)
    return -0.5 * Z * math.log(2 * math.pi) - 0.5 * logdet - 0.5 * quad
