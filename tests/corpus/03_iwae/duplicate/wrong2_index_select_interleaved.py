"""
expect: fail
mistake: Index order is interleaved (each row rep times in a row), not repetition-major.
keywords: order, interleave
uses:
"""
import torch


def duplicate(x, rep):
    idx = torch.arange(x.shape[0], device=x.device).repeat_interleave(rep)  # 0,0,1,1,...
    return x.index_select(0, idx)
