"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def duplicate(x, rep):
    copies = []
    for _ in range(rep):
        copies.append(x)
    return torch.cat(copies)
