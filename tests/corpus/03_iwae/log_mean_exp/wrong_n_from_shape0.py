"""
expect: fail
mistake: Divides by x.shape[0] instead of the size of the averaged dimension, so the -log n term is wrong whenever dim is not 0.
keywords: log n, dim
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x, dim) - math.log(x.shape[0])
