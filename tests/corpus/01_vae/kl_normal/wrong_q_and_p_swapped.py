"""
expect: fail
mistake: computes KL(p || q) instead of KL(q || p): the roles of the two distributions are swapped
keywords: direction, swapped
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (torch.log(qv / pv) + (pv + (pm - qm) ** 2) / qv - 1).sum(-1)
