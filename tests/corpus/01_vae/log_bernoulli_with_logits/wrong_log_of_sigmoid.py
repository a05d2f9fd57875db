"""
expect: fail
mistake: computes torch.log(torch.sigmoid(logits)) and log(1 - sigmoid): -inf (and NaN gradients) for large logits; work from the logits
keywords: sigmoid, logits, stable
"""

import torch


def log_bernoulli_with_logits(x, logits):
    p = torch.sigmoid(logits)
    return (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1)
