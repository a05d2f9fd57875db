"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def classification_loss(model, x, y):
    logits = model.classify(x)
    # -log softmax(logits)[y] = logsumexp(logits) - logits[y]
    correct_logit = (y * logits).sum(-1)
    return (torch.logsumexp(logits, dim=-1) - correct_logit).mean()
