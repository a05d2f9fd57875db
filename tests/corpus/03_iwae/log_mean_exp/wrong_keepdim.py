"""
expect: fail
mistake: Keeps the averaged dimension (keepdim=True), so the result has the wrong shape: dim must be removed.
keywords: shape, dimension
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x, dim, keepdim=True) - math.log(x.shape[dim])
