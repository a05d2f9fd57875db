"""
expect: fail
mistake: Returns sum q log q, minus the entropy, and forgets the cross term with the prior, -sum q log p.
keywords: prior, log_p
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * log_q).sum(-1)
