"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    diff = log_q - log_p
    q, diff = torch.broadcast_tensors(q, diff)
    return torch.einsum("...y,...y->...", q, diff)
