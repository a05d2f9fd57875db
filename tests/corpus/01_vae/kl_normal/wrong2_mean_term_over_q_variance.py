"""
expect: fail
mistake: divides the squared mean difference by q's variance instead of p's variance
keywords: variance, mean
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (torch.log(pv / qv) + qv / pv + (qm - pm) ** 2 / qv - 1).sum(-1)
