"""
expect: fail
mistake: Recomputes torch.log(q) instead of using log_q: for a confident classifier q rounds to 0, log(0) = -inf and 0 * -inf gives nan.
keywords: nan, log_q
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (torch.log(q) - log_p)).sum(-1)
