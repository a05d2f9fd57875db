"""
expect: fail
mistake: Shifts by the global maximum of the whole tensor instead of the maximum along dim: a slice far below the global max underflows to -inf.
keywords: max, underflow, stable
uses:
"""
import torch


def log_mean_exp(x, dim):
    a = x.max()
    return a + torch.log(torch.mean(torch.exp(x - a), dim=dim))
