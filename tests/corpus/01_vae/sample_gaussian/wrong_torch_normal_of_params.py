"""
expect: fail
mistake: draws z with torch.normal(m, sqrt(v)), whose gradient with respect to m and v is zero: not the reparameterisation trick
keywords: gradient, reparameterisation
"""

import torch


def sample_gaussian(m, v):
    return torch.normal(m, torch.sqrt(v))
