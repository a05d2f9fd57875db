"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    B = x.shape[0]
    out = x.new_empty((rep * B, *x.shape[1:]))
    for r in range(rep):
        out[r * B : (r + 1) * B] = x
    return out
