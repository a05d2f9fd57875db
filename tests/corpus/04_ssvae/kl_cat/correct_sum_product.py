"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (log_q - log_p)).sum(dim=-1)
