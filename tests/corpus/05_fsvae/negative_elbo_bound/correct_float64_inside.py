"""
expect: pass
mistake:
keywords:
uses: sample_gaussian, log_normal, kl_normal
"""
import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    # the constant is about -714 nats next to a squared error of a few dozen: add them up in double
    x64, mean64 = x.double(), mean.double()
    rec = -log_normal(x64, mean64, torch.full_like(mean64, model.x_var))
    kl = kl_normal(m.double(), v.double(), *(p.double() for p in model.prior()))

    rec = rec.mean().to(mean.dtype)
    kl = kl.mean().to(mean.dtype)
    return rec + kl, kl, rec
