"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def log_mean_exp(x, dim):
    xs = torch.movedim(x, dim, 0)  # the averaged dimension first
    n = xs.shape[0]
    a = xs.max(dim=0).values
    total = torch.zeros_like(a)
    for i in range(n):
        total = total + torch.exp(xs[i] - a)
    return a + torch.log(total / n)
