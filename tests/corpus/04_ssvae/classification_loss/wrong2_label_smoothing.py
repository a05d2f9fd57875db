"""
expect: fail
mistake: Adds label smoothing (copied from a training recipe): that is not the cross-entropy of q(y|x).
keywords: smoothing, cross-entropy, cross entropy
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    return F.cross_entropy(model.classify(x), y.argmax(dim=1), label_smoothing=0.1)
