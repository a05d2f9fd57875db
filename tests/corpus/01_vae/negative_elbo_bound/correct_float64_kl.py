"""
expect: pass
mistake:
keywords:
"""

import torch


def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    # KL in double precision, cast back to the model's dtype
    kl64 = 0.5 * (torch.log(pv.double() / v.double())
                  + (v.double() + (m.double() - pm.double()) ** 2) / pv.double() - 1)
    kl = kl64.sum(-1).mean().to(rec.dtype)
    return rec + beta * kl, kl, rec
