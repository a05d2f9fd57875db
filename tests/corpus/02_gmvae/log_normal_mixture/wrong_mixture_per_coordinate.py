"""
expect: fail
mistake: takes the log-sum-exp over components for each coordinate and then sums over Z: a product of 1-D mixtures, not a mixture of diagonal Gaussians
keywords: order, sum, logsumexp
"""

import math
import torch


def log_normal_mixture(z, m, v):
    z = z.unsqueeze(1)
    per_dim = -0.5 * (math.log(2 * math.pi) + torch.log(v) + (z - m) ** 2 / v)   # (B, K, Z)
    return (torch.logsumexp(per_dim, dim=1) - math.log(m.shape[1])).sum(-1)
