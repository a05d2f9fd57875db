"""
expect: fail
mistake: Wraps the copy in torch.no_grad(), so no gradient flows back to x.
keywords: gradient
uses:
"""
import torch


def duplicate(x, rep):
    with torch.no_grad():
        return x.repeat(rep, *([1] * (x.dim() - 1)))
