"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    return x.repeat(rep, 1)
