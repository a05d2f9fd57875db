"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    # log p = x * l - softplus(l)
    return (x * logits - F.softplus(logits)).sum(dim=-1)
