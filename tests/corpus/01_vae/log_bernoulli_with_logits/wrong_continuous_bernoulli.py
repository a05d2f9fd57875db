"""
expect: fail
mistake: uses the continuous Bernoulli, whose extra normalising constant makes it a different distribution
keywords: continuous, normalising constant
"""

import torch
import torch.distributions as D


def log_bernoulli_with_logits(x, logits):
    # x is in [0, 1], so use the continuous version
    return D.ContinuousBernoulli(logits=logits).log_prob(x).sum(-1)
