"""
expect: fail
mistake: Detaches x before repeating it, so gradients do not flow back to the encoder outputs.
keywords: gradient
uses:
"""
import torch


def duplicate(x, rep):
    return x.detach().repeat(rep, 1)
