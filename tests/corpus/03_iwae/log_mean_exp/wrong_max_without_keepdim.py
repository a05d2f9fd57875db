"""
expect: fail
mistake: Takes the max without keepdim, so x - a broadcasts against the wrong dimension for any dim other than 0 (wrong values or a shape error).
keywords: broadcast, keepdim
uses:
"""
import torch


def log_mean_exp(x, dim):
    a = x.max(dim=dim).values
    return a + torch.log(torch.mean(torch.exp(x - a), dim=dim))
