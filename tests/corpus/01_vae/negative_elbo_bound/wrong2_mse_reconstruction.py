"""
expect: fail
mistake: uses a squared error on sigmoid(logits) instead of the Bernoulli log-likelihood
keywords: bernoulli, reconstruction
"""

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    x_hat = torch.sigmoid(model.decode(z))
    rec = F.mse_loss(x_hat, x, reduction="none").sum(-1).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + beta * kl, kl, rec
