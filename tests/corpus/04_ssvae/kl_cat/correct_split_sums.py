"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    # minus the entropy, minus the cross term
    neg_entropy = torch.sum(q * log_q, dim=-1)
    cross = torch.sum(q * log_p, dim=-1)
    return neg_entropy - cross
