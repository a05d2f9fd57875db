"""
expect: fail
mistake: uses the log of the standard-deviation ratio inside the 1/2: the log term is halved twice
keywords: log ratio, factor of 2
"""

import torch


def kl_normal(qm, qv, pm, pv):
    log_ratio = torch.log(pv.sqrt() / qv.sqrt())
    return 0.5 * (log_ratio + (qv + (qm - pm) ** 2) / pv - 1).sum(-1)
