"""
expect: pass
mistake:
keywords:
"""

import torch


def kl_normal(qm, qv, pm, pv):
    """KL(N(qm, diag qv) || N(pm, diag pv)), summed over the last dimension."""
    element_wise = 0.5 * (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1)
    return element_wise.sum(-1)
