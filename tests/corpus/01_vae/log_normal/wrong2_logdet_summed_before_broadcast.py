"""
expect: fail
mistake: sums log v over v's own last dimension before broadcasting: a variance shared by all Z coordinates (last dim 1) is counted once instead of Z times
keywords: broadcast, shape
"""

import math

import torch


def log_normal(x, m, v):
    Z = torch.broadcast_shapes(x.shape, m.shape, v.shape)[-1]
    quad = ((x - m) ** 2 / v).sum(-1)
    logdet = torch.log(v).sum(-1)
    return -0.5 * Z * math.log(2 * math.pi) - 0.5 * logdet - 0.5 * quad
