"""
expect: pass
mistake:
keywords:
"""

import torch


def log_bernoulli_with_logits(x, logits):
    # logits of the two classes (0, 1) are (0, logits); log_softmax gives log(1 - p) and log p
    two = torch.stack([torch.zeros_like(logits), logits], dim=-1).log_softmax(-1)
    return ((1 - x) * two[..., 0] + x * two[..., 1]).sum(-1)
