"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    idx = torch.arange(x.shape[0], device=x.device).repeat(rep)  # 0..B-1, 0..B-1, ...
    return x.index_select(0, idx)
