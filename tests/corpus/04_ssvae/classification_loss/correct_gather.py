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
    idx = y.argmax(dim=-1, keepdim=True)  # (B, 1)
    return -log_q.gather(1, idx).squeeze(1).mean()
