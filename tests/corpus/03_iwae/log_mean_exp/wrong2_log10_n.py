"""
expect: fail
mistake: Uses log10(n) for the mean's constant while logsumexp uses the natural log.
keywords: log(n), base, constant
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x, dim=dim) - math.log10(x.shape[dim])
