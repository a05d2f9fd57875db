"""
expect: fail
mistake: uses F.binary_cross_entropy on sigmoid(logits): it clamps the log at -100 and loses precision for large logits; use the logits version
keywords: logits, with_logits
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    probs = torch.sigmoid(logits)
    return -F.binary_cross_entropy(probs, x, reduction="none").sum(-1)
