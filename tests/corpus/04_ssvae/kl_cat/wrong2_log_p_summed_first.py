"""
expect: fail
mistake: The cross term drops the weights q: it subtracts sum_y log p_y instead of sum_y q_y log p_y.
keywords: weight, q, cross
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * log_q).sum(-1) - log_p.sum(-1)  # forgot that the cross term is weighted by q too
