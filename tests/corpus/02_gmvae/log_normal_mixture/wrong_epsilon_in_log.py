"""
expect: fail
mistake: adds 1e-8 inside log(v); negligible for ordinary variances but biased for very narrow components
keywords: epsilon, log
"""

import math
import torch


def log_normal_mixture(z, m, v):
    z = z.unsqueeze(1)
    l = -0.5 * (math.log(2 * math.pi) + torch.log(v + 1e-8) + (z - m) ** 2 / v).sum(-1)
    return torch.logsumexp(l, dim=1) - math.log(m.shape[1])
