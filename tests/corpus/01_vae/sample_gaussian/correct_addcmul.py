"""
expect: pass
mistake:
keywords:
"""

import torch


def sample_gaussian(m, v):
    eps = torch.randn_like(m * v)
    return torch.addcmul(m, torch.sqrt(v), eps)
