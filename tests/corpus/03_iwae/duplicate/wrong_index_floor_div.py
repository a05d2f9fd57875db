"""
expect: fail
mistake: Indexes rows with arange(rep * B) // rep, which is the interleaved order x0, x0, x1, x1, ... instead of repetition-major.
keywords: interleave, order
uses:
"""
import torch


def duplicate(x, rep):
    B = x.shape[0]
    idx = torch.arange(rep * B, device=x.device) // rep
    return x[idx]
