"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    log_probs = F.log_softmax(model.classify(x), dim=1)
    labels = torch.argmax(y, dim=1)
    return F.nll_loss(log_probs, labels)
