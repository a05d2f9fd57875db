"""
expect: pass
mistake:
keywords:
uses: log_normal, kl_normal
"""
import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = m + v.sqrt() * torch.empty_like(m).normal_()
    mean = model.decode(z, y)
    var = mean.new_full((mean.shape[-1],), model.x_var)  # (D,), broadcast over the batch
    rec = -log_normal(x, mean, var).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + kl, kl, rec
