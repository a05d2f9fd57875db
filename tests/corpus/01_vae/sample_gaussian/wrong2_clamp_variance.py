"""
expect: fail
mistake: clamps the variance at 1e-3: for small variances the noise is far too large
keywords: variance, clamp, v -> 0
"""

import torch


def sample_gaussian(m, v):
    std = torch.sqrt(torch.clamp(v, min=1e-3))  # avoid sqrt of tiny numbers
    return m + std * torch.randn_like(m + v)
