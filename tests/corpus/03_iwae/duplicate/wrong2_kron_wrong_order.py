"""
expect: fail
mistake: torch.kron(x, ones) repeats each row rep times in place (interleaved), not the whole batch one copy after another.
keywords: order, interleave
uses:
"""
import torch


def duplicate(x, rep):
    ones = x.new_ones((rep,) + (1,) * (x.dim() - 1))
    return torch.kron(x, ones)  # gives x0, x0, x1, x1, ...
