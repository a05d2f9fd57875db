"""
expect: pass
mistake:
keywords:
"""

import torch


def log_bernoulli_with_logits(x, logits):
    log_normaliser = torch.logaddexp(torch.zeros_like(logits), logits)  # log(1 + e^l)
    return (x * logits - log_normaliser).sum(-1)
