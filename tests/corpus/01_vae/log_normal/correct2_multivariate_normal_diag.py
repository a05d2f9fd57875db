"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def log_normal(x, m, v):
    x, m, v = torch.broadcast_tensors(x, m, v)
    p = D.MultivariateNormal(m, scale_tril=torch.diag_embed(v.sqrt()))
    return p.log_prob(x)
