"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal_mixture(z, m, v):
    diff = z.unsqueeze(1) - m                                     # (B, K, Z)
    per_dim = math.log(2 * math.pi) + torch.log(v) + diff * diff / v
    l = -0.5 * torch.einsum("bkz->bk", per_dim)
    return torch.logsumexp(l, 1) - math.log(m.size(1))
