"""
expect: fail
mistake: returns the binary cross-entropy (a positive loss) instead of the log-probability: sign error
keywords: sign
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
