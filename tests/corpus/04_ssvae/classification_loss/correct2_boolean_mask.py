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
    return -log_q[y.bool()].mean()  # one True per row: the log-probability of the true class
