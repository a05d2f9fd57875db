"""
expect: fail
mistake: Inline KL to N(0, I) without the -1 term: kl is off by Z/2.
keywords: kl, constant
uses: sample_gaussian, log_normal, kl_normal
"""
import math

import torch


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)
    rec = -log_normal(x, mean, model.x_var * torch.ones_like(mean)).mean()
    kl = 0.5 * (v + m**2 - torch.log(v)).sum(-1).mean()  # KL to N(0, I)
    return rec + kl, kl, rec
