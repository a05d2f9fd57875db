"""
expect: fail
mistake: calls torch.manual_seed inside the function: every call returns the same noise and resets the global RNG
keywords: seed
"""

import torch


def sample_gaussian(m, v):
    torch.manual_seed(0)  # reproducible
    eps = torch.randn(torch.broadcast_shapes(m.shape, v.shape))
    return m + torch.sqrt(v) * eps
