"""
expect: fail
mistake: Expands a new axis after the batch axis, so flattening puts the copies of each image next to each other (interleaved order).
keywords: interleave, order
uses:
"""
import torch


def duplicate(x, rep):
    return x.unsqueeze(1).expand(-1, rep, -1).reshape(-1, x.shape[-1])
