"""
expect: fail
mistake: eps has the shape of m; when m is (1, Z) and v is (B, Z) every row reuses the same noise
keywords: broadcast, same noise
"""

import torch


def sample_gaussian(m, v):
    eps = torch.randn_like(m)
    return m + torch.sqrt(v) * eps
