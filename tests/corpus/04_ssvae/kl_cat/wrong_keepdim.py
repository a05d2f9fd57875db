"""
expect: fail
mistake: Keeps the summed class dimension (keepdim=True): the result must have q's shape without its last dimension.
keywords: shape, dimension
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (log_q - log_p)).sum(-1, keepdim=True)
