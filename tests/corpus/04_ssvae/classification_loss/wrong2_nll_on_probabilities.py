"""
expect: fail
mistake: Feeds probabilities to nll_loss, which expects log-probabilities: it returns minus the mean probability.
keywords: log, probabilities
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    probs = F.softmax(model.classify(x), dim=-1)
    return F.nll_loss(probs, y.argmax(dim=-1))  # nll_loss expects log-probabilities
