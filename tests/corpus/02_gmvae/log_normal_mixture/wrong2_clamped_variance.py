"""
expect: fail
mistake: clamps the component variances at 1e-4: wrong for narrow components
keywords: variance, clamp, small
"""

import math

import torch


def log_normal_mixture(z, m, v):
    comps = log_normal(z.unsqueeze(1), m, v.clamp(min=1e-4))
    return torch.logsumexp(comps, dim=1) - math.log(m.shape[1])
