"""
expect: pass
mistake:
keywords:
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    total = torch.logcumsumexp(x, dim=dim).select(dim, -1)  # last entry = log-sum-exp of everything
    return total - math.log(x.size(dim))
