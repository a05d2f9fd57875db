"""
expect: fail
mistake: Computes KL(p || q), weighting by p, instead of KL(q || p), weighting by q.
keywords: reverse, direction
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    p = torch.exp(log_p)
    return (p * (log_p - log_q)).sum(-1)
