"""
expect: fail
mistake: Averages over the classes instead of summing, so the KL is Y times too small.
keywords: sum, mean
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (log_q - log_p)).mean(-1)
