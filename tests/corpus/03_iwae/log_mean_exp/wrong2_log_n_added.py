"""
expect: fail
mistake: Adds log n instead of subtracting it: that is log(n * sum exp), not log(mean exp).
keywords: sign, log(n), subtract
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x, dim=dim) + math.log(x.shape[dim])
