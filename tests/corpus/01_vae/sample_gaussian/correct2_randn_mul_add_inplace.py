"""
expect: pass
mistake:
keywords:
"""

import torch


def sample_gaussian(m, v):
    # fresh noise tensor, scaled and shifted in place (it is not a leaf that needs a gradient)
    eps = torch.randn(*torch.broadcast_shapes(m.shape, v.shape), dtype=m.dtype, device=m.device)
    return eps.mul_(v ** 0.5).add_(m)
