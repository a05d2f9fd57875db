"""
expect: pass
mistake:
keywords:
uses: sample_gaussian, kl_normal
"""
import math

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    sigma2 = model.x_var
    sse = F.mse_loss(mean, x, reduction="none").sum(dim=1)
    const = 0.5 * x.shape[1] * math.log(2 * math.pi * sigma2)
    rec = (sse / (2 * sigma2) + const).mean()

    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + kl, kl, rec
