"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def classification_loss(model, x, y):
    logits = model.classify(x)
    losses = []
    for b in range(x.shape[0]):
        k = int(y[b].argmax())
        losses.append(-torch.log_softmax(logits[b], dim=0)[k])
    return torch.stack(losses).mean()
