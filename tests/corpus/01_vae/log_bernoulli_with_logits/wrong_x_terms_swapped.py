"""
expect: fail
mistake: pairs x with log(1 - sigma) and (1 - x) with log sigma: the two terms are swapped
keywords: swapped
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    return (x * F.logsigmoid(-logits) + (1 - x) * F.logsigmoid(logits)).sum(-1)
