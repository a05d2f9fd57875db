"""
expect: pass
mistake:
keywords:
"""

import math

import torch


def log_normal_mixture(z, m, v):
    K = m.shape[1]
    comps = torch.stack([log_normal(z, m[:, k], v[:, k]) for k in range(K)], dim=1)  # (B, K)
    return torch.logsumexp(comps - math.log(K), dim=1)
