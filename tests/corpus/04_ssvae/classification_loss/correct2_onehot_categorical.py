"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.distributions as D


def classification_loss(model, x, y):
    q = D.OneHotCategorical(logits=model.classify(x))
    return -q.log_prob(y).mean()
