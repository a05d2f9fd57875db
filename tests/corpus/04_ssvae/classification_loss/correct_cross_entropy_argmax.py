"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    logits = model.classify(x)
    return F.cross_entropy(logits, y.argmax(dim=-1))
