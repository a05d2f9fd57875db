"""
expect: fail
mistake: treats qv and pv as log-variances
keywords: log-variance
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (pv - qv + (torch.exp(qv) + (qm - pm) ** 2) / torch.exp(pv) - 1).sum(-1)
