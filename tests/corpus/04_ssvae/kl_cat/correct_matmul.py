"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    ratio = log_q - log_p  # (..., Y)
    q, ratio = torch.broadcast_tensors(q, ratio)
    # (..., 1, Y) @ (..., Y, 1) -> (..., 1, 1)
    return (q.unsqueeze(-2) @ ratio.unsqueeze(-1)).squeeze(-1).squeeze(-1)
