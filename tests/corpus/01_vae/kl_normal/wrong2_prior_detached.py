"""
expect: fail
mistake: detaches the prior's parameters: no gradient reaches a learnable prior
keywords: gradient
"""

import torch


def kl_normal(qm, qv, pm, pv):
    pm, pv = pm.detach(), pv.detach()  # the prior is fixed
    return 0.5 * (torch.log(pv) - torch.log(qv) + (qv + (qm - pm) ** 2) / pv - 1).sum(-1)
