"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def sample_gaussian(m, v):
    m, v = torch.broadcast_tensors(m, v)
    q = D.MultivariateNormal(m, scale_tril=torch.diag_embed(v.sqrt()))
    return q.rsample()
