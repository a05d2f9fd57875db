"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    ones = torch.ones(rep, dtype=x.dtype, device=x.device)
    out = torch.einsum("r,b...->rb...", ones, x)  # (rep, B, ...)
    return out.reshape(rep * x.shape[0], *x.shape[1:])
