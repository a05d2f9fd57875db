"""
expect: fail
mistake: Starts from x and then appends rep more copies, so the result has rep + 1 copies of the batch.
keywords: copies, shape
uses:
"""
import torch


def duplicate(x, rep):
    out = x
    for _ in range(rep):
        out = torch.cat([out, x], dim=0)
    return out
