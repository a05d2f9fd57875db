"""
expect: pass
mistake:
keywords:
"""

import torch


def kl_normal(qm, qv, pm, pv):
    q_logv, p_logv = qv.log(), pv.log()
    terms = p_logv - q_logv + torch.exp(q_logv - p_logv) + (qm - pm).pow(2) * torch.exp(-p_logv) - 1
    return terms.sum(-1) / 2
