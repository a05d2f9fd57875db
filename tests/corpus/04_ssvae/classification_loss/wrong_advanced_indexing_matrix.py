"""
expect: fail
mistake: Indexes log_q[:, labels], which builds a (B, B) matrix (every image scored against every image's label) and averages all of it instead of picking one entry per row.
keywords: index, label
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    log_q = F.log_softmax(model.classify(x), dim=-1)
    labels = y.argmax(-1)
    return -log_q[:, labels].mean()
