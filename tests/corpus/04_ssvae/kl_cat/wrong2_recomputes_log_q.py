"""
expect: fail
mistake: Ignores the given log_q and takes log(q): a probability that underflows to 0 gives 0 * -inf = nan.
keywords: nan, log_q, underflow
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    return (q * (torch.log(q) - log_p)).sum(-1)  # recompute log q from q
