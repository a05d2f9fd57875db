"""
expect: fail
mistake: exp then log, even in float64, underflows when every component density is tiny: -inf instead of logsumexp
keywords: inf, logsumexp, stable
"""

import torch


def log_normal_mixture(z, m, v):
    comps = log_normal(z.unsqueeze(1), m, v).double()  # float64 has a wide range
    return torch.log(torch.exp(comps).mean(dim=1)).to(z.dtype)
