"""
expect: pass
mistake:
keywords:
"""

import torch


def sample_gaussian(m, v):
    """Reparameterised sample z ~ N(m, diag(v))."""
    shape = torch.broadcast_shapes(m.shape, v.shape)
    eps = torch.randn(shape, dtype=m.dtype, device=m.device)
    return m + torch.sqrt(v) * eps
