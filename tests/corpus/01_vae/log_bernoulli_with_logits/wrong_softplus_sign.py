"""
expect: fail
mistake: subtracts softplus(-logits) instead of softplus(logits) in x*l - softplus(l)
keywords: softplus, sign
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    return (x * logits - F.softplus(-logits)).sum(-1)
