"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal(x, m, v):
    out_dtype = torch.promote_types(torch.promote_types(x.dtype, m.dtype), v.dtype)
    x64, m64, v64 = x.double(), m.double(), v.double()
    lp = -0.5 * (torch.log(2 * math.pi * v64) + (x64 - m64).pow(2) / v64)
    return lp.sum(-1).to(out_dtype)
