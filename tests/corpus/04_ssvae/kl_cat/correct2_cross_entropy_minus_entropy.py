"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    cross_entropy = -(q * log_p).sum(-1)
    entropy = -(q * log_q).sum(-1)
    return cross_entropy - entropy
