"""
expect: fail
mistake: The log-ratio is upside down, log p - log q: the result is minus the KL (never positive).
keywords: sign, negative
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (log_p - log_q)).sum(-1)
