"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    B = x.shape[0]
    # row r * B + b must be x[b], i.e. index (r * B + b) % B
    idx = torch.arange(rep * B, device=x.device) % B
    return x[idx]
