"""
expect: fail
mistake: Naive exp then log with an epsilon: exp(-100) underflows and the eps caps the result near -23; large x overflows.
keywords: stable, underflow, overflow
uses:
"""
import torch


def log_mean_exp(x, dim):
    return torch.log(torch.exp(x).mean(dim=dim) + 1e-10)  # eps to avoid log(0)
