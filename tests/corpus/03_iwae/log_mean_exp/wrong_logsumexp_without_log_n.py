"""
expect: fail
mistake: Returns logsumexp, the log of the sum, without subtracting log n: it is off by log(x.shape[dim]).
keywords: log n, mean, sum
uses:
"""
import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x, dim=dim)
