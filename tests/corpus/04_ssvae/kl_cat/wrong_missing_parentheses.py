"""
expect: fail
mistake: Missing parentheses: q * log_q - log_p weights only log q by q and subtracts log p unweighted.
keywords: weight, parentheses
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * log_q - log_p).sum(-1)
