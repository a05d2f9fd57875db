"""
expect: fail
mistake: Subtracts the maximum inside the exponential but never adds it back, so the result is off by the per-slice max.
keywords: max, shift
uses:
"""
import torch


def log_mean_exp(x, dim):
    a = x.max(dim=dim, keepdim=True).values
    return torch.log(torch.mean(torch.exp(x - a), dim=dim))
