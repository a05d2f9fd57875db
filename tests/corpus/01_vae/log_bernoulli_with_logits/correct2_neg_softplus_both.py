"""
expect: pass
mistake:
keywords:
"""

import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    log_p = -F.softplus(-logits)      # log sigmoid(logits)
    log_1mp = -F.softplus(logits)     # log (1 - sigmoid(logits))
    return (x * log_p + (1 - x) * log_1mp).sum(-1)
