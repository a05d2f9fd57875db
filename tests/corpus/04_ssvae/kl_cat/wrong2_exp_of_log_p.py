"""
expect: fail
mistake: Subtracts the probabilities exp(log_p) instead of the log-probabilities log_p.
keywords: log, probabilities
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (log_q - torch.exp(log_p))).sum(-1)
