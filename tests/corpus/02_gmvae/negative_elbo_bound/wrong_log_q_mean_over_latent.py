"""
expect: fail
mistake: averages log q(z|x) over the latent coordinates instead of summing
keywords: sum, latent
"""

import math
import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    log_q = -0.5 * (math.log(2 * math.pi) + torch.log(v) + (z - m) ** 2 / v).mean(-1)
    kl = (log_q - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
