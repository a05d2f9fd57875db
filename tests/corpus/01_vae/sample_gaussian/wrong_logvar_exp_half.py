"""
expect: fail
mistake: treats v as a log-variance (std = exp(v / 2)); the course passes variances
keywords: log-variance, sqrt
"""

import torch


def sample_gaussian(m, v):
    std = torch.exp(0.5 * v)
    eps = torch.randn_like(std)
    return m + eps * std
