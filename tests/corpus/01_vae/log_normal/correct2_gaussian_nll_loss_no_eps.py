"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.nn.functional as F


def log_normal(x, m, v):
    x, m, v = torch.broadcast_tensors(x, m, v)
    nll = F.gaussian_nll_loss(m, x, v, full=True, eps=0.0, reduction="none")
    return -nll.sum(-1)
