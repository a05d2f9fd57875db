"""
expect: fail
mistake: Weights the log-ratio by p instead of q.
keywords: weight, q
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (torch.exp(log_p) * (log_q - log_p)).sum(-1)
