"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    log_q = F.log_softmax(model.classify(x), dim=-1)
    return -(y * log_q).sum(dim=-1).mean()
