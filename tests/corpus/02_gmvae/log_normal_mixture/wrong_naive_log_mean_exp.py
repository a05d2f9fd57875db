"""
expect: fail
mistake: computes log(mean(exp(l))): mathematically right but -inf when every component is far; use torch.logsumexp
keywords: logsumexp, underflow
"""

import torch


def log_normal_mixture(z, m, v):
    l = log_normal(z.unsqueeze(1), m, v)
    return torch.log(torch.mean(torch.exp(l), dim=1))
