"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def log_normal_mixture(z, m, v):
    """log of the uniform mixture density (1/K) sum_k N(z; m_k, diag v_k)."""
    K = m.shape[1]
    log_probs = log_normal(z.unsqueeze(1), m, v)  # (B, K)
    return torch.logsumexp(log_probs, dim=1) - math.log(K)
