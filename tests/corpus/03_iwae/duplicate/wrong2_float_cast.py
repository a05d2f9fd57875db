"""
expect: fail
mistake: Casts to float32 with .float(): float64 inputs lose their dtype and precision.
keywords: dtype, float64, float32
uses:
"""
import torch


def duplicate(x, rep):
    return torch.cat([x.float() for _ in range(rep)], dim=0)
