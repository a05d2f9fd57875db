"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    log_p = F.logsigmoid(logits)        # log sigma(l)
    log_not_p = F.logsigmoid(-logits)   # log (1 - sigma(l))
    return (x * log_p + (1 - x) * log_not_p).sum(-1)
