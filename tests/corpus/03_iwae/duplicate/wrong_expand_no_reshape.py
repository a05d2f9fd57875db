"""
expect: fail
mistake: Returns the (rep, B, D) expanded view without merging the first two dimensions into rep * B rows.
keywords: shape
uses:
"""
import torch


def duplicate(x, rep):
    return x.expand(rep, *x.shape)
