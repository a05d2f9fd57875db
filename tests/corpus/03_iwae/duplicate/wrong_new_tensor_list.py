"""
expect: fail
mistake: Rebuilds the tensor from a Python list (x.tolist() * rep); the order is right but the result is a new leaf, so no gradient reaches x.
keywords: gradient
uses:
"""
import torch


def duplicate(x, rep):
    return x.new_tensor(x.tolist() * rep)
