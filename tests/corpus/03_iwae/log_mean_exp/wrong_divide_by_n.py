"""
expect: fail
mistake: Divides the logsumexp by n instead of subtracting log n: the mean is inside the log, so it becomes -log n outside.
keywords: log n
uses:
"""
import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x, dim) / x.shape[dim]
