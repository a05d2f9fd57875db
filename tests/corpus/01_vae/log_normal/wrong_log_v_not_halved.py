"""
expect: fail
mistake: writes log v where it should be (1/2) log v, confusing the log standard deviation with the log variance
keywords: log v, 1/2
"""

import math
import torch


def log_normal(x, m, v):
    return -(0.5 * math.log(2 * math.pi) + torch.log(v) + (x - m) ** 2 / (2 * v)).sum(-1)
