"""
expect: fail
mistake: adds 1e-8 inside the log of the variance ratio; invisible for ordinary variances, wrong by up to log 2 per dimension near the encoder's floor 1e-8
keywords: epsilon, log
"""

import torch


def kl_normal(qm, qv, pm, pv):
    log_ratio = torch.log((pv + 1e-8) / (qv + 1e-8))
    return 0.5 * (log_ratio + (qv + (qm - pm) ** 2) / pv - 1).sum(-1)
