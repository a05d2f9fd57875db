"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    ones = x.new_ones((rep,) + (1,) * (x.dim() - 1))
    return torch.kron(ones, x)  # block r is 1 * x
