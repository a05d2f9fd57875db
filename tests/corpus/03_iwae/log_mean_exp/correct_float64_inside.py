"""
expect: pass
mistake:
keywords:
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    # compute in double precision, give back the input's dtype
    x64 = x.to(torch.float64)
    out = torch.logsumexp(x64, dim) - math.log(x.size(dim))
    return out.to(x.dtype)
