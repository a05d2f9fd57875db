"""
expect: fail
mistake: uses Normal(...).sample(), which is not reparameterised: z carries no gradient to m and v (use rsample)
keywords: rsample, gradient
"""

import torch
import torch.distributions as D


def sample_gaussian(m, v):
    dist = D.Normal(m, torch.sqrt(v))
    return dist.sample()
