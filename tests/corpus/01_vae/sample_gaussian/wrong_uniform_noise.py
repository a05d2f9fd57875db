"""
expect: fail
mistake: uses torch.rand_like (uniform on [0, 1)) instead of standard normal noise
keywords: randn, normal
"""

import torch


def sample_gaussian(m, v):
    m, v = torch.broadcast_tensors(m, v)
    eps = torch.rand_like(m)
    return m + torch.sqrt(v) * eps
