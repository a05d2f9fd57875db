"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    stacked = torch.stack([x for _ in range(rep)], dim=0)  # (rep, B, D)
    return stacked.flatten(0, 1)
