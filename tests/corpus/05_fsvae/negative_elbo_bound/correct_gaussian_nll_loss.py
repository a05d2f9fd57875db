"""
expect: pass
mistake:
keywords:
uses: sample_gaussian, kl_normal
"""
import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    var = torch.full_like(mean, model.x_var)
    # full=True keeps the 0.5 * log(2 pi) constant
    nll = F.gaussian_nll_loss(mean, x, var, full=True, reduction="none").sum(-1)
    rec = nll.mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + kl, kl, rec
