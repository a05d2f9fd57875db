"""
expect: pass
mistake:
keywords:
"""

import torch


def log_normal_mixture(z, m, v):
    l = log_normal(z.unsqueeze(1), m, v)                          # (B, K)
    log_w = torch.log_softmax(torch.zeros(l.shape[-1], dtype=l.dtype, device=l.device), dim=0)  # all -log K
    return torch.logsumexp(l + log_w, dim=-1)
