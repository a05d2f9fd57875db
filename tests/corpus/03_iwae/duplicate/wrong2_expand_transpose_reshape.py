"""
expect: fail
mistake: Transposes to (B, rep, D) before flattening, which gives the interleaved order.
keywords: order, interleave
uses:
"""
import torch


def duplicate(x, rep):
    out = x.unsqueeze(0).expand(rep, *x.shape)  # (rep, B, D)
    return out.transpose(0, 1).reshape(rep * x.shape[0], *x.shape[1:])
