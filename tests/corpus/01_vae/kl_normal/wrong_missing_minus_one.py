"""
expect: fail
mistake: forgets the -1 inside the sum: the KL is off by Z/2 and is not 0 when q = p
keywords: -1, zero
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv).sum(-1)
