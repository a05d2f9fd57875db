"""
expect: fail
mistake: F.nll_loss expects log-probabilities, but it gets the raw logits: log_softmax is missing.
keywords: log_softmax, logits
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    return F.nll_loss(model.classify(x), y.argmax(dim=1))
