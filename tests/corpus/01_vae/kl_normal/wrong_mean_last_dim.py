"""
expect: fail
mistake: averages over the latent dimension instead of summing
keywords: sum, mean
"""

import torch


def kl_normal(qm, qv, pm, pv):
    return 0.5 * (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1).mean(-1)
