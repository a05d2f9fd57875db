"""
expect: fail
mistake: builds D.Bernoulli(probs=sigmoid(logits)), which clamps the probabilities internally; pass logits= instead
keywords: logits, probs
"""

import torch
import torch.distributions as D


def log_bernoulli_with_logits(x, logits):
    dist = D.Bernoulli(probs=torch.sigmoid(logits), validate_args=False)
    return dist.log_prob(x).sum(-1)
