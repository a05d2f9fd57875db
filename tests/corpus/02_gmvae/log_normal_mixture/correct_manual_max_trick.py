"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal_mixture(z, m, v):
    l = log_normal(z.unsqueeze(1), m, v)                          # (B, K)
    l_max = l.max(dim=1, keepdim=True).values
    lse = l_max.squeeze(1) + torch.log(torch.exp(l - l_max).sum(dim=1))
    return lse - math.log(l.shape[1])
