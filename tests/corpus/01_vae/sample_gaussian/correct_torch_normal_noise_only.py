"""
expect: pass
mistake:
keywords:
"""

import torch


def sample_gaussian(m, v):
    shape = torch.broadcast_shapes(m.shape, v.shape)
    zeros = torch.zeros(shape, dtype=m.dtype, device=m.device)
    ones = torch.ones(shape, dtype=m.dtype, device=m.device)
    eps = torch.normal(zeros, ones)  # only the noise comes from torch.normal
    return m + v ** 0.5 * eps
