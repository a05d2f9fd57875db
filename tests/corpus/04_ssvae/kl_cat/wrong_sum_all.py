"""
expect: fail
mistake: Sums over every dimension and returns a scalar; it must sum over the last dimension only and keep the batch shape.
keywords: shape, dimension
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return torch.sum(q * (log_q - log_p))
