"""
expect: fail
mistake: detaches the logits: no gradient reaches the decoder
keywords: gradient
"""

import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    logits = logits.detach()
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
