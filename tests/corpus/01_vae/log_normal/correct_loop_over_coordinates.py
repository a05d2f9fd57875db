"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal(x, m, v):
    x, m, v = torch.broadcast_tensors(x, m, v)
    total = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
    for i in range(x.shape[-1]):
        xi, mi, vi = x[..., i], m[..., i], v[..., i]
        total = total - 0.5 * (math.log(2 * math.pi) + torch.log(vi) + (xi - mi) ** 2 / vi)
    return total
