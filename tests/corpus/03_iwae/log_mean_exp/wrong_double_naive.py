"""
expect: fail
mistake: Computes exp in float64 without the max shift, which only moves the overflow/underflow threshold (about +-709), and always casts the result to float32.
keywords: stable, overflow, underflow, float64
uses:
"""
import torch


def log_mean_exp(x, dim):
    return torch.log(torch.exp(x.double()).mean(dim)).float()
