"""
expect: fail
mistake: leaves out the constant log(2π): the result is off by Z/2 · log(2π)
keywords: log(2π), constant
"""

import torch


def log_normal(x, m, v):
    # the constant doesn't matter for optimisation
    return -0.5 * (torch.log(v) + (x - m) ** 2 / v).sum(-1)
