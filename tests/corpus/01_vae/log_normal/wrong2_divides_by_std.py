"""
expect: fail
mistake: divides the squared distance by the standard deviation instead of the variance
keywords: variance, std
"""

import math

import torch


def log_normal(x, m, v):
    return -0.5 * (math.log(2 * math.pi) + torch.log(v) + (x - m) ** 2 / torch.sqrt(v)).sum(-1)
