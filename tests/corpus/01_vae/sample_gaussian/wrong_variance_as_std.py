"""
expect: fail
mistake: scales the noise by the variance v instead of the standard deviation sqrt(v)
keywords: sqrt, standard deviation
"""

import torch


def sample_gaussian(m, v):
    eps = torch.randn(torch.broadcast_shapes(m.shape, v.shape))
    return m + v * eps
