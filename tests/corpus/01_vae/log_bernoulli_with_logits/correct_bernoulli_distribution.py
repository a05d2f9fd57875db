"""
expect: pass
mistake:
keywords:
"""

import torch
import torch.distributions as D


def log_bernoulli_with_logits(x, logits):
    # validate_args=False because x may be a grey level in [0, 1]
    dist = D.Bernoulli(logits=logits, validate_args=False)
    return dist.log_prob(x).sum(-1)
