"""
expect: fail
mistake: treats the component variances as log-variances and exponentiates them
keywords: variance
"""

import math

import torch


def log_normal_mixture(z, m, v):
    comps = log_normal(z.unsqueeze(1), m, torch.exp(v))
    return torch.logsumexp(comps, dim=1) - math.log(m.shape[1])
