"""
expect: fail
mistake: Averages over the batch at the end; kl_cat must return one KL per row, shape q.shape[:-1] (the caller takes the mean).
keywords: shape, batch
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (log_q - log_p)).sum(-1).mean()
