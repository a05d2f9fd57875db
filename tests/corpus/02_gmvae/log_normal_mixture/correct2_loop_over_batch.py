"""
expect: pass
mistake:
keywords:
"""

import math

import torch


def log_normal_mixture(z, m, v):
    K = m.shape[1]
    out = []
    for zi in z:  # (Z,)
        comps = log_normal(zi.unsqueeze(0), m[0], v[0])  # (K,)
        out.append(torch.logsumexp(comps, dim=0) - math.log(K))
    return torch.stack(out)
