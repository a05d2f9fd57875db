"""
expect: pass
mistake:
keywords:
"""

import torch


def sample_gaussian(m, v):
    m, v = torch.broadcast_tensors(m, v)
    eps = torch.randn_like(m)
    z = m + v.sqrt() * eps
    return z
