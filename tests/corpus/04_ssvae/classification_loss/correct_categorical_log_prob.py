"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.distributions as D


def classification_loss(model, x, y):
    q_y = D.Categorical(logits=model.classify(x))
    return -q_y.log_prob(y.argmax(-1)).mean()
