"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    out_dtype = torch.result_type(x, logits)
    l = logits.double()
    lp = x.double() * l - F.softplus(l)
    return lp.sum(-1).to(out_dtype)
