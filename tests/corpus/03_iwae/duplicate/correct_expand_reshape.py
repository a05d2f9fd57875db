"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    B = x.shape[0]
    # (rep, B, ...) view without copying, then merge the two leading dims (copy happens here)
    out = x.unsqueeze(0).expand(rep, *x.shape)
    return out.reshape(rep * B, *x.shape[1:])
