"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def sample_gaussian(m, v):
    # rsample() keeps the graph (reparameterised), unlike sample()
    return D.Normal(m, v.sqrt()).rsample()
