"""
expect: pass
mistake:
keywords:
"""

import torch


def sample_gaussian(m, v):
    m, v = torch.broadcast_tensors(m, v)
    flat_m, flat_v = m.reshape(-1, m.shape[-1]), v.reshape(-1, v.shape[-1])
    rows = []
    for i in range(flat_m.shape[0]):
        rows.append(flat_m[i] + torch.sqrt(flat_v[i]) * torch.randn(flat_m.shape[1], dtype=m.dtype, device=m.device))
    return torch.stack(rows).reshape(m.shape)
