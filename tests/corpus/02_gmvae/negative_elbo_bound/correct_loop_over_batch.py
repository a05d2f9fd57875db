"""
expect: pass
mistake:
keywords:
"""

import math
import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    logits = model.decode(z)
    pm, pv = model.prior()
    K = pm.shape[1]
    recs, kls = [], []
    for i in range(x.shape[0]):
        recs.append(-log_bernoulli_with_logits(x[i], logits[i]))
        log_q = log_normal(z[i], m[i], v[i])
        log_p = torch.logsumexp(log_normal(z[i], pm[0], pv[0]), dim=0) - math.log(K)
        kls.append(log_q - log_p)
    rec = torch.stack(recs).mean()
    kl = torch.stack(kls).mean()
    return rec + kl, kl, rec
