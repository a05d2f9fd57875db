"""
expect: pass
mistake:
keywords:
"""

import torch


def sample_gaussian(m, v):
    std = torch.exp(0.5 * torch.log(v))  # sqrt(v), written through the log
    eps = torch.randn_like(m + std)  # m + std has the broadcast shape
    return m + std * eps
