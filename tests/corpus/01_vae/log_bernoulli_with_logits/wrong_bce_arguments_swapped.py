"""
expect: fail
mistake: calls binary_cross_entropy_with_logits(x, logits): the input (logits) and the target (x) are swapped
keywords: argument order, target
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    return -F.binary_cross_entropy_with_logits(x, logits, reduction="none").sum(-1)
