"""
expect: fail
mistake: eps has the shape of v; with a shared variance of shape (1, Z) and means (B, Z) every row gets the same noise
keywords: broadcast, same noise
"""

import torch


def sample_gaussian(m, v):
    std = v.sqrt()
    eps = torch.randn_like(std)
    return m + std * eps
