"""
expect: fail
mistake: does not divide the squared mean difference by pv
keywords: divide, pv
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (torch.log(pv / qv) + qv / pv + (qm - pm) ** 2 - 1).sum(-1)
