"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def kl_normal(qm, qv, pm, pv):
    q = D.Normal(qm, qv.sqrt())
    p = D.Normal(pm, pv.sqrt())
    return D.kl_divergence(q, p).sum(-1)
