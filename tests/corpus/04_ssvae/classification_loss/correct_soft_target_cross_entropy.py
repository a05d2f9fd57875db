"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    # cross_entropy accepts class probabilities as the target; one-hot rows are exactly that
    logits = model.classify(x)
    return F.cross_entropy(logits, y.to(logits.dtype))
