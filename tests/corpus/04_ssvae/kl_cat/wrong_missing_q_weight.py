"""
expect: fail
mistake: Sums the log-ratios without weighting them by q: the KL is an expectation under q.
keywords: weight, expectation
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (log_q - log_p).sum(-1)
