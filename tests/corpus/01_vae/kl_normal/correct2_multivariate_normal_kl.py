"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def kl_normal(qm, qv, pm, pv):
    qm, qv, pm, pv = torch.broadcast_tensors(qm, qv, pm, pv)
    q = D.MultivariateNormal(qm, scale_tril=torch.diag_embed(qv.sqrt()))
    p = D.MultivariateNormal(pm, scale_tril=torch.diag_embed(pv.sqrt()))
    return D.kl_divergence(q, p)
