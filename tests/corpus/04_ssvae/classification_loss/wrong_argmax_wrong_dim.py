"""
expect: fail
mistake: Takes y.argmax(0), over the batch, instead of y.argmax(-1): the targets are not the images' labels (and the shapes only match when B = Y).
keywords: argmax, dimension, label
uses:
"""
import torch
import torch.nn.functional as F


def classification_loss(model, x, y):
    return F.cross_entropy(model.classify(x), y.argmax(0))
