"""
expect: pass
mistake:
keywords:
uses:
"""
import math

import torch


def log_mean_exp(x, dim):
    slices = x.unbind(dim)
    acc = slices[0]
    for s in slices[1:]:
        acc = torch.logaddexp(acc, s)  # running log-sum-exp, stable pairwise
    return acc - math.log(len(slices))
