"""
expect: fail
mistake: forgets to sum over the last dimension: returns one log-density per coordinate
keywords: shape, sum
"""

import math

import torch


def log_normal(x, m, v):
    return -0.5 * (math.log(2 * math.pi) + torch.log(v) + (x - m) ** 2 / v)
