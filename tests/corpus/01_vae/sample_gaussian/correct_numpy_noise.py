"""
expect: pass
mistake:
keywords:
"""

import numpy as np
import torch


def sample_gaussian(m, v):
    shape = torch.broadcast_shapes(m.shape, v.shape)
    eps = torch.from_numpy(np.random.standard_normal(tuple(shape)))
    eps = eps.to(device=m.device, dtype=m.dtype)
    return m + torch.sqrt(v) * eps
