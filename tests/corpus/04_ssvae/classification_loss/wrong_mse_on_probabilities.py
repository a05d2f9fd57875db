"""
expect: fail
mistake: Uses the mean squared error between the softmax probabilities and the one-hot labels instead of the cross-entropy -log q(y|x).
keywords: cross-entropy, log
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    return F.mse_loss(F.softmax(model.classify(x), dim=-1), y)
