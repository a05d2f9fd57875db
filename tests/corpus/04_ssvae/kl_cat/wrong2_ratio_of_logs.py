"""
expect: fail
mistake: Divides the logs (log q / log p) instead of subtracting them: log(q/p) = log q - log p.
keywords: ratio, difference, subtract
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (log_q / log_p)).sum(-1)  # "log of the ratio"
