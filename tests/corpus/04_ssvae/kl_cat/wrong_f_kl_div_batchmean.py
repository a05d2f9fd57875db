"""
expect: fail
mistake: F.kl_div(log_q, p) computes KL(p || q), the other direction, and reduction='batchmean' collapses the batch into one scalar.
keywords: direction, reverse, shape
uses:
"""
import torch
import torch.nn.functional as F


def kl_cat(q, log_q, log_p):
    return F.kl_div(log_q, log_p.exp().expand_as(q), reduction="batchmean")
