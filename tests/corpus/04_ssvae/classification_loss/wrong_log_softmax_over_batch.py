"""
expect: fail
mistake: Normalises the logits over the batch dimension (log_softmax with dim=0) instead of over the classes.
keywords: dimension, log_softmax
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    log_q = F.log_softmax(model.classify(x), dim=0)
    return -(y * log_q).sum(dim=1).mean()
