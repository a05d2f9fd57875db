"""
expect: pass
mistake:
keywords:
"""

import torch


def kl_normal(qm, qv, pm, pv):
    # r = qv / pv; r - 1 - log r written with expm1 so that it stays accurate when qv is close to pv
    log_r = torch.log(qv) - torch.log(pv)
    return 0.5 * (torch.expm1(log_r) - log_r + (qm - pm) ** 2 / pv).sum(-1)
