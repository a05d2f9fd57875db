"""
expect: fail
mistake: Takes log(mean(exp(x))) directly: exp underflows to 0 (log gives -inf) or overflows to inf for large-magnitude inputs; it needs the max shift or logsumexp.
keywords: stable, overflow, underflow
uses:
"""
import torch


def log_mean_exp(x, dim):
    return torch.log(torch.mean(torch.exp(x), dim=dim))
