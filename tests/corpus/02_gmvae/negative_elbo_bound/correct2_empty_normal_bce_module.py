"""
expect: pass
mistake:
keywords:
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = m + v.sqrt() * torch.empty_like(m).normal_()
    bce = torch.nn.BCEWithLogitsLoss(reduction="sum")
    rec = bce(model.decode(z), x) / x.shape[0]
    pm, pv = model.prior()
    kl = torch.mean(log_normal(z, m, v) - log_normal_mixture(z, pm, pv))
    return rec + kl, kl, rec
