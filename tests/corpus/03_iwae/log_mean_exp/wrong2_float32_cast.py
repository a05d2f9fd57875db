"""
expect: fail
mistake: Casts to float32: float64 inputs come back in float32 with single precision.
keywords: dtype, float64, float32
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x.float(), dim=dim) - math.log(x.shape[dim])
