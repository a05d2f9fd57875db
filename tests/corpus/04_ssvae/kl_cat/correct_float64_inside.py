"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def kl_cat(q, log_q, log_p):
    dtype = torch.promote_types(q.dtype, log_q.dtype)
    kl = (q.double() * (log_q.double() - log_p.double())).sum(-1)
    return kl.to(dtype)
