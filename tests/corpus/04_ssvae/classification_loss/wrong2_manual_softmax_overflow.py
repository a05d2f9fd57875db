"""
expect: fail
mistake: Computes the softmax with a raw exp: large logits overflow to inf and the loss becomes nan.
keywords: overflow, stable, nan
uses:
"""
import torch


def classification_loss(model, x, y):
    e = torch.exp(model.classify(x))
    log_q = torch.log(e / e.sum(dim=-1, keepdim=True))
    return -(y * log_q).sum(-1).mean()
