"""
expect: fail
mistake: Forgets the minus sign: returns the mean log-likelihood of the labels (negative) instead of the cross-entropy.
keywords: sign, negative
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    return (y * F.log_softmax(model.classify(x), dim=-1)).sum(-1).mean()
