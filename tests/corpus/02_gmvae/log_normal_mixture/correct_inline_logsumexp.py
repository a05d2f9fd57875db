"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal_mixture(z, m, v):
    z = z[:, None, :]                                             # (B, 1, Z)
    log_comp = -0.5 * (math.log(2 * math.pi) + torch.log(v) + (z - m) ** 2 / v).sum(-1)  # (B, K)
    K = log_comp.shape[-1]
    return torch.logsumexp(log_comp, dim=-1) - math.log(K)
