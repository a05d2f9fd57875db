"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    reps = (rep,) + (1,) * (x.ndim - 1)
    return torch.tile(x, reps)
