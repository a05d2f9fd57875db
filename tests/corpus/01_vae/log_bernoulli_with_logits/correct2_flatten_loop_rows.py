"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    D_ = x.shape[-1]
    xs, ls = x.reshape(-1, D_), logits.reshape(-1, D_)
    out = torch.stack([-F.binary_cross_entropy_with_logits(l, xi, reduction="sum") for xi, l in zip(xs, ls)])
    return out.reshape(x.shape[:-1])
