"""
expect: fail
mistake: picks one of the two terms with x > 0.5: wrong for grey levels x strictly between 0 and 1
keywords: binary, grey, [0, 1]
"""

import torch
import torch.nn.functional as F


def log_bernoulli_with_logits(x, logits):
    return torch.where(x > 0.5, F.logsigmoid(logits), F.logsigmoid(-logits)).sum(-1)
