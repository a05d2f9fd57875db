"""
expect: fail
mistake: draws one eps of shape (Z,) and broadcasts it, so every example in the batch gets the same noise
keywords: same noise, batch
"""

import torch


def sample_gaussian(m, v):
    eps = torch.randn(m.shape[-1])
    return m + torch.sqrt(v) * eps
