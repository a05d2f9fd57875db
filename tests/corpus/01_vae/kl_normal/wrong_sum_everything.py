"""
expect: fail
mistake: sums over all dimensions and returns a scalar instead of one KL per example
keywords: last dimension, shape
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * torch.sum(torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1)
