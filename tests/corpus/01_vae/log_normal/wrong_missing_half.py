"""
expect: fail
mistake: drops the factor 1/2 in front of the sum: the log-density is twice too negative
keywords: factor of 2, 1/2
"""

import math
import torch


def log_normal(x, m, v):
    return -(math.log(2 * math.pi) + torch.log(v) + (x - m) ** 2 / v).sum(-1)
