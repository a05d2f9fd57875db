"""
expect: fail
mistake: detaches the mixture's means and variances: no gradient reaches the learnable prior
keywords: gradient
"""

import math

import torch


def log_normal_mixture(z, m, v):
    m, v = m.detach(), v.detach()  # prior parameters are not trained here
    comps = log_normal(z.unsqueeze(1), m, v)
    return torch.logsumexp(comps, dim=1) - math.log(m.shape[1])
