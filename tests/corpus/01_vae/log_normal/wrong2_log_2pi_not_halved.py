"""
expect: fail
mistake: uses log(2 pi) instead of 0.5 log(2 pi) per coordinate: off by a constant
keywords: constant, pi
"""

import math

import torch


def log_normal(x, m, v):
    return (-math.log(2 * math.pi) - 0.5 * torch.log(v) - 0.5 * (x - m) ** 2 / v).sum(-1)
