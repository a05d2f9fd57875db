"""
expect: fail
mistake: uses log(qv / pv) instead of log(pv / qv) (sign of the log-variance ratio)
keywords: sign, log ratio
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (torch.log(qv / pv) + (qv + (qm - pm) ** 2) / pv - 1).sum(-1)
