"""
expect: pass
mistake:
keywords:
"""

import torch


def sample_gaussian(m, v):
    out_dtype = torch.result_type(m, v)
    shape = torch.broadcast_shapes(m.shape, v.shape)
    eps = torch.randn(shape, dtype=torch.float64, device=m.device)
    z = m.double() + v.double().sqrt() * eps
    return z.to(out_dtype)
