"""
expect: fail
mistake: Off-by-one in the loop: it makes rep - 1 copies (and one copy for rep = 2), so the result has too few rows.
keywords: shape, rows, copies
uses:
"""
import torch


def duplicate(x, rep):
    out = x
    for _ in range(1, rep - 1):
        out = torch.cat([out, x], dim=0)
    return out
