"""
expect: fail
mistake: Sums the cross-entropy over the batch (reduction='sum') instead of averaging it.
keywords: sum, batch, mean
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    return F.cross_entropy(model.classify(x), y.argmax(-1), reduction="sum")
