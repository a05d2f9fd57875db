"""
expect: fail
mistake: passes the variances as the scales of D.Normal, which expects standard deviations
keywords: sqrt, standard deviation
"""

import torch
import torch.distributions as D


def kl_normal(qm, qv, pm, pv):
    return D.kl_divergence(D.Normal(qm, qv), D.Normal(pm, pv)).sum(-1)
