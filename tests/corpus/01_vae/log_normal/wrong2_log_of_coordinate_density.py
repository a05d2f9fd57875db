"""
expect: fail
mistake: takes the log of each coordinate's density: exp underflows to 0 far from the mean and the log gives -inf
keywords: inf, underflow, stable
"""

import math

import torch


def log_normal(x, m, v):
    density = torch.exp(-((x - m) ** 2) / (2 * v)) / torch.sqrt(2 * math.pi * v)
    return torch.log(density).sum(-1)
