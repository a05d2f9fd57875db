"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal_mixture(z, m, v):
    K = m.shape[1]
    total = None
    for k in range(K):
        lk = log_normal(z, m[:, k, :], v[:, k, :])                # (B,)
        total = lk if total is None else torch.logaddexp(total, lk)
    return total - math.log(K)
