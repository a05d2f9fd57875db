"""
expect: fail
mistake: Averages the values themselves (mean of the log-weights) instead of the log of the mean of their exponentials; by Jensen this is smaller.
keywords: mean, jensen
uses:
"""
import torch


def log_mean_exp(x, dim):
    return x.mean(dim=dim)
