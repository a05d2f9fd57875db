"""
expect: fail
mistake: uses binary_cross_entropy_with_logits with its default reduction='mean': one scalar averaged over pixels and batch
keywords: reduction, sum
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    return -F.binary_cross_entropy_with_logits(logits, x)
