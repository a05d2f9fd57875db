"""
expect: pass
mistake:
keywords:
"""

import torch


def log_bernoulli_with_logits(x, logits):
    loss = torch.nn.BCEWithLogitsLoss(reduction="none")
    return -loss(logits, x).sum(-1)
