"""
expect: fail
mistake: uses log1p(-sigmoid(logits)), still computed through the sigmoid: sigmoid rounds to 1 for logits above ~17 and the log is -inf
keywords: sigmoid, logits, stable
"""

import torch


def log_bernoulli_with_logits(x, logits):
    p = logits.sigmoid()
    return (x * torch.log(p) + (1 - x) * torch.log1p(-p)).sum(-1)
