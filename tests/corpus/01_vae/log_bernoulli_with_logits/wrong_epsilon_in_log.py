"""
expect: fail
mistake: adds 1e-8 inside the logs of the probabilities; small for moderate logits but wrong for confident ones (log 1e-8 instead of -100)
keywords: epsilon, logits
"""

import torch


def log_bernoulli_with_logits(x, logits):
    p = torch.sigmoid(logits)
    eps = 1e-8
    return (x * torch.log(p + eps) + (1 - x) * torch.log(1 - p + eps)).sum(-1)
