"""
expect: fail
mistake: Samples as if the encoder returned a log-variance: exp(v/2) instead of sqrt(v).
keywords: variance, log-variance, sample
uses: sample_gaussian, log_normal, kl_normal
"""
import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = m + torch.exp(0.5 * v) * torch.randn_like(m)  # as if v were a log-variance
    mean = model.decode(z, y)
    rec = -log_normal(x, mean, model.x_var * torch.ones_like(mean)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + kl, kl, rec
