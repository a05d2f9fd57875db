"""
expect: fail
mistake: squeeze() without a dim also removes the other dimensions of size 1, so the shape is wrong.
keywords: shape, dimension
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x, dim=dim, keepdim=True).squeeze() - math.log(x.shape[dim])
