"""
expect: fail
mistake: detaches sqrt(v), so the variance receives no gradient through the sample
keywords: detach, variance
"""

import torch


def sample_gaussian(m, v):
    std = torch.sqrt(v).detach()
    eps = torch.randn(torch.broadcast_shapes(m.shape, v.shape))
    return m + std * eps
