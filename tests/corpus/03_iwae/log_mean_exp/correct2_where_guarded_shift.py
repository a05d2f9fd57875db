"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def log_mean_exp(x, dim):
    m = x.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # all -inf (or an inf): no shift
    return m.squeeze(dim) + torch.log(torch.exp(x - m).mean(dim=dim))
