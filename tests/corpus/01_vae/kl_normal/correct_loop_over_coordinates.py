"""
expect: pass
mistake:
keywords:
"""

import torch


def kl_normal(qm, qv, pm, pv):
    qm, qv, pm, pv = torch.broadcast_tensors(qm, qv, pm, pv)
    total = 0
    for i in range(qm.shape[-1]):
        a, b, c, d = qm[..., i], qv[..., i], pm[..., i], pv[..., i]
        total = total + 0.5 * (torch.log(d) - torch.log(b) + (b + (a - c) ** 2) / d - 1)
    return total
