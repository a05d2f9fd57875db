"""
expect: fail
mistake: drops the factor 1/2: the KL is twice too large
keywords: factor of 2, 1/2
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1).sum(-1)
