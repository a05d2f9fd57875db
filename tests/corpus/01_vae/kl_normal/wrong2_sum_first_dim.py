"""
expect: fail
mistake: sums over the first (batch) dimension instead of the last (latent) one
keywords: dim, shape, batch
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (torch.log(pv) - torch.log(qv) + (qv + (qm - pm) ** 2) / pv - 1).sum(0)
