"""
expect: fail
mistake: torch.repeat_interleave without dim flattens the tensor and repeats every single entry, returning a 1-D vector in interleaved order.
keywords: shape, interleave
uses:
"""
import torch


def duplicate(x, rep):
    return torch.repeat_interleave(x, rep)
