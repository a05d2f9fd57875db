"""
expect: fail
mistake: averages over the batch: returns a scalar instead of one KL per example
keywords: shape, batch
"""

import torch


def kl_normal(qm, qv, pm, pv):
    kl = 0.5 * (torch.log(pv) - torch.log(qv) + (qv + (qm - pm) ** 2) / pv - 1).sum(-1)
    return kl.mean()
