"""
expect: fail
mistake: averages 4 noise draws: the sample has variance v / 4 instead of v
keywords: variance
"""

import torch


def sample_gaussian(m, v):
    S = 4  # average a few samples to reduce noise
    shape = torch.broadcast_shapes(m.shape, v.shape)
    eps = torch.randn((S,) + tuple(shape), dtype=m.dtype, device=m.device).mean(0)
    return m + v.sqrt() * eps
