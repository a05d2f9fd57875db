"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal_mixture(z, m, v):
    K = m.shape[-2]
    l = log_normal(z.unsqueeze(-2), m, v)                         # (B, K)
    return torch.logsumexp(l - math.log(K), dim=-1)
