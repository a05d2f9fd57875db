"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    ratio = torch.sub(log_q, log_p)  # broadcasts log_p against q
    return torch.mul(q, ratio).sum(dim=-1, keepdim=True).squeeze(-1)
