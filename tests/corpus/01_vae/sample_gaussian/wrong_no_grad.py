"""
expect: fail
mistake: computes z under torch.no_grad(), so no gradient reaches m and v
keywords: no_grad, gradient
"""

import torch


def sample_gaussian(m, v):
    with torch.no_grad():
        eps = torch.randn(torch.broadcast_shapes(m.shape, v.shape))
        z = m + torch.sqrt(v) * eps
    return z
