"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def log_mean_exp(x, dim):
    n = torch.tensor(x.size(dim), dtype=x.dtype, device=x.device)
    return x.logsumexp(dim=dim) - torch.log(n)
