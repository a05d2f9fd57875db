"""
expect: fail
mistake: Averages the per-pixel log-density over the pixels instead of summing it: rec is D times too small next to the KL.
keywords: sum, pixels, mean
uses: sample_gaussian, kl_normal
"""
import math

import torch
import torch.distributions as D


def negative_elbo_bound(model, x, y):
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    mean = model.decode(z, y)

    rec = -D.Normal(mean, math.sqrt(model.x_var)).log_prob(x).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + kl, kl, rec
