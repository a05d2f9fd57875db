"""
expect: fail
mistake: returns z.detach(): the sample is cut from the graph and the encoder gets no gradient through it
keywords: detach, gradient
"""

import torch


def sample_gaussian(m, v):
    eps = torch.randn(torch.broadcast_shapes(m.shape, v.shape))
    z = m + torch.sqrt(v) * eps
    return z.detach()
