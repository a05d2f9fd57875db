"""
expect: fail
mistake: sums over the first (batch) dimension instead of the pixels
keywords: dim, shape, batch
"""

import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(0)
