"""
expect: fail
mistake: Divides by n - 1 (Bessel's correction) instead of n; for n = 1 it even divides by zero.
keywords: log n, mean, n - 1
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    n = x.shape[dim]
    return torch.logsumexp(x, dim=dim) - math.log(n - 1)  # unbiased-variance reflex
