"""
expect: pass
mistake:
keywords:
"""

import torch


def kl_normal(qm, qv, pm, pv):
    kl = torch.log(pv) - torch.log(qv) + qv / pv + (qm - pm).pow(2) / pv - 1.0
    return 0.5 * kl.sum(dim=-1)
