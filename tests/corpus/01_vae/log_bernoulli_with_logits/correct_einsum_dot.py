"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    x = x.to(logits.dtype)
    data_term = torch.einsum("...d,...d->...", x, logits)
    return data_term - F.softplus(logits).sum(-1)
