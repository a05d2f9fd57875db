"""
expect: fail
mistake: adds the noise in place into the encoder's mean m: modifies the input (and fails on a leaf that needs a gradient)
keywords: in-place, input
"""

import torch


def sample_gaussian(m, v):
    eps = torch.randn_like(m + v)
    return m.add_(v.sqrt() * eps)  # saves memory
