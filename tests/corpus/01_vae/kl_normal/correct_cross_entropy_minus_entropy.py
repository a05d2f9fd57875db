"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def kl_normal(qm, qv, pm, pv):
    # KL = H(q, p) - H(q), both in closed form
    cross_entropy = 0.5 * (torch.log(2 * math.pi * pv) + (qv + (qm - pm) ** 2) / pv)
    entropy = 0.5 * torch.log(2 * math.pi * math.e * qv)
    return (cross_entropy - entropy).sum(-1)
