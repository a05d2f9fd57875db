"""
expect: fail
mistake: Forgets the log-sum-exp normaliser of the softmax: it uses shifted logits as log-probabilities.
keywords: normalis, normaliz, softmax
uses:
"""
import torch


def classification_loss(model, x, y):
    logits = model.classify(x)
    shifted = logits - logits.max(dim=-1, keepdim=True).values  # "stable" softmax...
    return -(y * shifted).sum(-1).mean()  # ...but the log-sum-exp normaliser is forgotten
