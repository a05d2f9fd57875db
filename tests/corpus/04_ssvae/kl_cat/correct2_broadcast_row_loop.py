"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    q, log_q, log_p = torch.broadcast_tensors(q, log_q, log_p)
    lead = q.shape[:-1]
    Y = q.shape[-1]
    rows = [torch.dot(a, b - c) for a, b, c in zip(q.reshape(-1, Y), log_q.reshape(-1, Y), log_p.reshape(-1, Y))]
    return torch.stack(rows).reshape(lead)
