"""
expect: fail
mistake: forgets the log v term (the log-determinant of the covariance)
keywords: log v, determinant
"""

import math
import torch


def log_normal(x, m, v):
    return -0.5 * (math.log(2 * math.pi) + (x - m) ** 2 / v).sum(-1)
