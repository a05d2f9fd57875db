"""
expect: fail
mistake: Shifts by the minimum instead of the maximum, so the remaining exponents are positive and overflow when the values are spread out.
keywords: max, overflow
uses:
"""
import torch


def log_mean_exp(x, dim):
    a = x.min(dim=dim, keepdim=True).values
    return (a + torch.log(torch.exp(x - a).mean(dim=dim, keepdim=True))).squeeze(dim)
