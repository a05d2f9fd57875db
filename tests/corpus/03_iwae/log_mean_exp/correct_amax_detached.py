"""
expect: pass
mistake:
keywords:
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    n = x.shape[dim]
    # the shift is a constant: the result does not depend on it, so no gradient is needed through it
    a = torch.amax(x, dim=dim, keepdim=True).detach()
    s = torch.exp(x - a).sum(dim=dim)
    return a.squeeze(dim) + torch.log(s) - math.log(n)
