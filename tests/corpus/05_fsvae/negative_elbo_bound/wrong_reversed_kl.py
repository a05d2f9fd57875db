"""
expect: fail
mistake: Calls kl_normal with the prior first, computing KL(p(z) || q(z|x, y)) instead of KL(q(z|x, y) || p(z)).
keywords: kl, order, reverse
uses: sample_gaussian, log_normal, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    x_var = torch.full_like(mean, model.x_var)
    rec = -log_normal(x, mean, x_var).mean()
    pm, pv = model.prior()
    kl = kl_normal(pm, pv, m, v).mean()
    nelbo = rec + kl
    return nelbo, kl, rec
