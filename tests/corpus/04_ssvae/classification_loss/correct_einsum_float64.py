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
    log_q = F.log_softmax(logits.double(), dim=-1)
    B = logits.shape[0]
    ce = -torch.einsum("by,by->", y.double(), log_q) / B
    return ce.to(logits.dtype)
