"""
expect: fail
mistake: torch.tile with a single repetition count tiles the last dimension of a 2-D tensor, giving (B, rep * D) instead of (rep * B, D).
keywords: shape
uses:
"""
import torch


def duplicate(x, rep):
    return torch.tile(x, (rep,))
