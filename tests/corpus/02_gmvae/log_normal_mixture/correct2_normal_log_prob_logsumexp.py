"""
expect: pass
mistake:
keywords:
"""

import math

import torch.distributions as D


def log_normal_mixture(z, m, v):
    comps = D.Normal(m, v.sqrt()).log_prob(z[:, None, :]).sum(-1)  # (B, K)
    return comps.logsumexp(-1) - math.log(comps.shape[-1])
