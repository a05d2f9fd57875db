"""
expect: fail
mistake: hard-codes p = N(0, I) and ignores pm and pv
keywords: prior, pm
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (qm ** 2 + qv - torch.log(qv) - 1).sum(-1)
