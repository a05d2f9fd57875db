"""
expect: fail
mistake: Concatenates the copies along the feature dimension, returning (B, rep * D) instead of (rep * B, D).
keywords: shape
uses:
"""
import torch


def duplicate(x, rep):
    return torch.cat([x] * rep, dim=1)
