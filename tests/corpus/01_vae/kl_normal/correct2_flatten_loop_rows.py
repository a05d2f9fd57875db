"""
expect: pass
mistake:
keywords:
"""

import torch


def kl_normal(qm, qv, pm, pv):
    qm, qv, pm, pv = torch.broadcast_tensors(qm, qv, pm, pv)
    Z = qm.shape[-1]
    rows = []
    for a, b, c, d in zip(qm.reshape(-1, Z), qv.reshape(-1, Z), pm.reshape(-1, Z), pv.reshape(-1, Z)):
        rows.append(0.5 * torch.sum(torch.log(d / b) + b / d + (a - c) ** 2 / d - 1))
    return torch.stack(rows).reshape(qm.shape[:-1]) if rows else qm.new_zeros(qm.shape[:-1])
