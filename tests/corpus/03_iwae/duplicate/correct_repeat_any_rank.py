"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    # repeat along the batch dimension only, keep every other dimension as it is
    sizes = [rep] + [1] * (x.dim() - 1)
    return x.repeat(*sizes)
