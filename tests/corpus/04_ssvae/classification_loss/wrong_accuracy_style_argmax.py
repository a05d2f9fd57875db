"""
expect: fail
mistake: Turns the predictions into hard one-hot vectors with argmax before the loss, which cuts the gradient and no longer measures log q(y|x).
keywords: argmax, gradient
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    logits = model.classify(x)
    pred = F.one_hot(logits.argmax(-1), y.shape[-1]).to(y.dtype)
    return F.binary_cross_entropy(pred.clamp(1e-6, 1 - 1e-6), y)
