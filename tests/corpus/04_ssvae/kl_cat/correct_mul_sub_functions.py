"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    log_ratio = torch.sub(log_q, log_p)
    return torch.mul(q, log_ratio).sum(dim=q.dim() - 1)
