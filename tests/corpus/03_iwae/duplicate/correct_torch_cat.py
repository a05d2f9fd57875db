"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    # rep copies of the whole batch, one after the other
    return torch.cat([x] * rep, dim=0)
