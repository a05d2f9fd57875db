"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def kl_normal(qm, qv, pm, pv):
    q = D.Independent(D.Normal(qm, torch.sqrt(qv)), 1)
    p = D.Independent(D.Normal(pm, torch.sqrt(pv)), 1)
    return D.kl_divergence(q, p)
