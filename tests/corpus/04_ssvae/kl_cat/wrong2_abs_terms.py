"""
expect: fail
mistake: Takes the absolute value of each term: the terms of a KL can be negative, only their sum is >= 0.
keywords: sign, negative, abs
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (log_q - log_p)).abs().sum(-1)  # a KL is never negative
