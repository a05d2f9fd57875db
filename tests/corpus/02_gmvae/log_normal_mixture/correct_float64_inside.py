"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal_mixture(z, m, v):
    out_dtype = torch.promote_types(z.dtype, torch.result_type(m, v))
    z64, m64, v64 = z.double().unsqueeze(1), m.double(), v.double()
    l = -0.5 * (torch.log(2 * math.pi * v64) + (z64 - m64) ** 2 / v64).sum(-1)
    out = torch.logsumexp(l, dim=1) - math.log(m.shape[1])
    return out.to(out_dtype)
