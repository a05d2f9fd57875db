"""
expect: fail
mistake: Repeats each row along the columns and then views it as rows, which puts the copies of one image next to each other (interleaved order).
keywords: interleave, order
uses:
"""
import torch


def duplicate(x, rep):
    return x.repeat(1, rep).view(-1, x.shape[1])
