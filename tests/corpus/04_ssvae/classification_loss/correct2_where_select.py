"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def classification_loss(model, x, y):
    log_q = torch.log_softmax(model.classify(x), dim=1)
    picked = torch.where(y > 0.5, log_q, torch.zeros_like(log_q)).sum(dim=1)
    return -picked.mean()
