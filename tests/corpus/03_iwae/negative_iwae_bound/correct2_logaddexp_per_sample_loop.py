"""
expect: pass
mistake:
keywords:
uses: sample_gaussian, log_bernoulli_with_logits, log_normal
"""
import math

import torch


def negative_iwae_bound(model, x, iw):
    m, v = model.encode(x)
    acc, kls, recs = None, [], []
    for _ in range(iw):
        z = sample_gaussian(m, v)
        log_px = log_bernoulli_with_logits(x, model.decode(z))
        log_pz, log_qz = model.log_prior(z), log_normal(z, m, v)
        a = log_px + log_pz - log_qz  # (B,)
        acc = a if acc is None else torch.logaddexp(acc, a)
        kls.append(log_qz - log_pz)
        recs.append(-log_px)
    niwae = -(acc - math.log(iw)).mean()
    return niwae, torch.stack(kls).mean(), torch.stack(recs).mean()
