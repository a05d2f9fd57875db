"""
expect: pass
mistake:
keywords:
"""

import torch


def sample_gaussian(m, v):
    shape = torch.broadcast_shapes(m.shape, v.shape)
    eps = torch.empty(shape, dtype=m.dtype, device=m.device).normal_()
    return m + v.sqrt() * eps
