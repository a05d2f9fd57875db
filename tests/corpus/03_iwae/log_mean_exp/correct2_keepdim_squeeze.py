"""
expect: pass
mistake:
keywords:
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    n = x.shape[dim]
    return torch.logsumexp(x, dim=dim, keepdim=True).squeeze(dim) - math.log(n)
