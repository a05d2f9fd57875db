"""
expect: fail
mistake: draws one noise vector of size Z and reuses it for every row of the batch: the samples are not independent
keywords: independent, same
"""

import torch


def sample_gaussian(m, v):
    eps = torch.randn(m.shape[-1], dtype=m.dtype, device=m.device)  # one noise vector, broadcast over the batch
    return m + torch.sqrt(v) * eps
