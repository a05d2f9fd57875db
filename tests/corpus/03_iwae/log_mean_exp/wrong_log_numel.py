"""
expect: fail
mistake: Subtracts the log of the total number of elements instead of the size of the averaged dimension.
keywords: log n, dim
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x, dim) - math.log(x.numel())
