"""
expect: fail
mistake: Takes the mean over the classes as well as over the batch, so the cross-entropy is divided by Y.
keywords: mean, sum, classes
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    return -(y * F.log_softmax(model.classify(x), dim=-1)).mean()
