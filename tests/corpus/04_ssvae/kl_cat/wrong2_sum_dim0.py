"""
expect: fail
mistake: Sums over the first dimension (the batch) instead of the last (the classes).
keywords: dimension, shape, last
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (log_q - log_p)).sum(0)
