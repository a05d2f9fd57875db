"""
expect: pass
mistake:
keywords:
"""

import torch


def log_bernoulli_with_logits(x, logits):
    # the stable BCE-with-logits formula: max(l, 0) - l*x + log(1 + exp(-|l|))
    bce = torch.clamp(logits, min=0) - logits * x + torch.log1p(torch.exp(-logits.abs()))
    return -bce.sum(-1)
