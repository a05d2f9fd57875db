"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    d = log_q - log_p  # a fresh tensor, safe to modify in place
    d.mul_(q)
    return d.sum(-1)
