"""
expect: pass
mistake:
keywords:
"""

import torch


def kl_normal(qm, qv, pm, pv):
    qm, qv, pm, pv = torch.broadcast_tensors(qm, qv, pm, pv)
    d = qm - pm
    mahalanobis = torch.einsum("...i,...i->...", d, d / pv)
    rest = (torch.log(pv) - torch.log(qv) + qv / pv - 1).sum(-1)
    return 0.5 * (mahalanobis + rest)
