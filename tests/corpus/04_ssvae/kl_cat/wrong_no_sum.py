"""
expect: fail
mistake: Returns the per-class terms q (log q - log p) without summing them over the classes.
keywords: sum, shape
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return q * (log_q - log_p)
