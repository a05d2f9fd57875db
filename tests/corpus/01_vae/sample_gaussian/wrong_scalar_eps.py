"""
expect: fail
mistake: draws a single scalar eps shared by every coordinate and every example
keywords: same noise, independent
"""

import torch


def sample_gaussian(m, v):
    eps = torch.randn(1)
    return m + torch.sqrt(v) * eps
