"""
expect: fail
mistake: takes the square root twice: scales the noise by v ** 0.25 instead of the standard deviation
keywords: variance, std
"""

import torch


def sample_gaussian(m, v):
    std = torch.sqrt(v)
    return m + torch.sqrt(std) * torch.randn_like(m + v)
