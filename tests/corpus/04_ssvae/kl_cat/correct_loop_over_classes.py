"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    Y = q.shape[-1]
    total = 0
    for k in range(Y):
        total = total + q[..., k] * (log_q[..., k] - log_p[..., k])
    return total
