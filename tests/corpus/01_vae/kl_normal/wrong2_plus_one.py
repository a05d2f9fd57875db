"""
expect: fail
mistake: adds 1 instead of subtracting it: off by the constant Z (the KL of equal Gaussians is not 0)
keywords: constant, zero, 0
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (torch.log(pv) - torch.log(qv) + (qv + (qm - pm) ** 2) / pv + 1).sum(-1)
