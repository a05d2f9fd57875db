"""
expect: fail
mistake: Always averages over dimension 0 and ignores the dim argument.
keywords: dim
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x, 0) - math.log(x.shape[0])
