"""
expect: fail
mistake: Detaches the classifier's logits, so the loss has the right value but no gradient reaches the classifier.
keywords: gradient, detach
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    logits = model.classify(x).detach()
    return F.cross_entropy(logits, y.argmax(-1))
