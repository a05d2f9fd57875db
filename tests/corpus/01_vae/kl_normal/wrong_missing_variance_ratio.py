"""
expect: fail
mistake: forgets the qv / pv term of the formula
keywords: qv, variance ratio
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (torch.log(pv / qv) + (qm - pm) ** 2 / pv - 1).sum(-1)
