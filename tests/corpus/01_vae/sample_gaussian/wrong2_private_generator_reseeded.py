"""
expect: fail
mistake: reseeds a fresh generator on every call: every call returns the same sample
keywords: seed, same
"""

import torch


def sample_gaussian(m, v):
    gen = torch.Generator(device=m.device).manual_seed(0)  # reproducible
    shape = torch.broadcast_shapes(m.shape, v.shape)
    eps = torch.randn(shape, generator=gen, dtype=m.dtype, device=m.device)
    return m + v.sqrt() * eps
