"""
expect: fail
mistake: forgets the (1 - x) weight on the log(1 - p) term
keywords: 1 - x, term
"""

import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    return (x * F.logsigmoid(logits) + F.logsigmoid(-logits)).sum(-1)
