"""
expect: fail
mistake: Stacks the copies along dim 1 before flattening, so each image is repeated in place (x0, x0, x1, x1, ...) rather than repetition-major.
keywords: interleave, order
uses:
"""
import torch


def duplicate(x, rep):
    return torch.stack([x] * rep, dim=1).reshape(-1, x.shape[1])
