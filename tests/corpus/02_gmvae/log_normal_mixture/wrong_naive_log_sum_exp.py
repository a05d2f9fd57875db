"""
expect: fail
mistake: computes log(sum(exp(l))) directly: underflows to -inf for a code far from every component; use torch.logsumexp
keywords: logsumexp, underflow
"""

import math
import torch


def log_normal_mixture(z, m, v):
    l = log_normal(z.unsqueeze(1), m, v)
    return torch.log(torch.exp(l).sum(dim=1)) - math.log(m.shape[1])
