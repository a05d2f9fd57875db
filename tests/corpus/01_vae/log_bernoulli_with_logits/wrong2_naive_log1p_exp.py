"""
expect: fail
mistake: computes log(1 + exp(logits)) directly: exp overflows for large logits and gives inf
keywords: inf, overflow, stable
"""

import torch


def log_bernoulli_with_logits(x, logits):
    return (x * logits - torch.log1p(torch.exp(logits))).sum(-1)
