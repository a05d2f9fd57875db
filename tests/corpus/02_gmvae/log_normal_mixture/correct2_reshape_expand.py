"""
expect: pass
mistake:
keywords:
"""

import math

import torch


def log_normal_mixture(z, m, v):
    B, K, Z = z.shape[0], m.shape[1], m.shape[2]
    zz = z.unsqueeze(1).expand(B, K, Z).reshape(B * K, Z)
    mm = m.expand(B, K, Z).reshape(B * K, Z)
    vv = v.expand(B, K, Z).reshape(B * K, Z)
    comps = log_normal(zz, mm, vv).view(B, K)
    return torch.logsumexp(comps, 1) - math.log(K)
