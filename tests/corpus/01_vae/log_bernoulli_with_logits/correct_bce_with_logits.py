"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    """log Bernoulli(x; sigmoid(logits)), summed over the last dimension."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return -bce.sum(-1)
