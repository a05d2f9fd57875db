"""
expect: fail
mistake: clamps the probabilities to [1e-7, 1 - 1e-7]: hides the -inf but gives the wrong value (and zero gradient) for confident logits
keywords: clamp, logits
"""

import torch


def log_bernoulli_with_logits(x, logits):
    p = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1)
