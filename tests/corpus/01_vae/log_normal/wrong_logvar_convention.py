"""
expect: fail
mistake: treats v as a log-variance (uses v for log v and exp(v) for the variance)
keywords: log-variance
"""

import math
import torch


def log_normal(x, m, v):
    return -0.5 * (math.log(2 * math.pi) + v + (x - m) ** 2 / torch.exp(v)).sum(-1)
