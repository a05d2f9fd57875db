"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def log_mean_exp(x, dim):
    # factor out the largest value so that every exponent is <= 0
    a = x.max(dim=dim, keepdim=True).values
    out = a + torch.log(torch.mean(torch.exp(x - a), dim=dim, keepdim=True))
    return out.squeeze(dim)
