"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    # a class with q = 0 contributes 0, whatever its log-ratio
    terms = torch.where(q > 0, q * (log_q - log_p), torch.zeros_like(q))
    return terms.sum(-1)
