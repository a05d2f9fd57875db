"""
expect: fail
mistake: takes the absolute value of the noise: a half-normal, so the samples are biased above the mean
keywords: mean, bias
"""

import torch


def sample_gaussian(m, v):
    eps = torch.randn_like(m + v).abs()  # "noise magnitude"
    return m + v.sqrt() * eps
