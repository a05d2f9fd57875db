"""
expect: fail
mistake: Uses repeat_interleave, which gives the interleaved order x0, x0, x1, x1, ... instead of all of x, then all of x again.
keywords: interleave, order
uses:
"""
import torch


def duplicate(x, rep):
    return x.repeat_interleave(rep, dim=0)
