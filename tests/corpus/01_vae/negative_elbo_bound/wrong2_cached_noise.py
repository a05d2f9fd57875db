"""
expect: fail
mistake: caches the noise and reuses it on every call: the same z for every call, no fresh sample
keywords: same, noise, random
"""

import torch

_noise = {}


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    if m.shape not in _noise:  # draw the noise once and reuse it
        _noise[m.shape] = torch.randn(m.shape)
    z = m + v.sqrt() * _noise[m.shape]
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec + beta * kl, kl, rec
