"""
expect: fail
mistake: uses |qm - pm| instead of the squared mean difference
keywords: square, mean
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (torch.log(pv) - torch.log(qv) + (qv + torch.abs(qm - pm)) / pv - 1).sum(-1)
