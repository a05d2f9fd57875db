"""
expect: pass
mistake:
keywords:
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    # mean(exp(x)) = sum(exp(x - log n))
    return torch.logsumexp(x - math.log(x.shape[dim]), dim=dim)
