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
    logits = model.decode(z)
    recs, kls = [], []
    for i in range(x.shape[0]):
        recs.append(-log_bernoulli_with_logits(x[i], logits[i]))
        kls.append(kl_normal(m[i], v[i], pm, pv))
    rec = torch.stack(recs).mean()
    kl = torch.stack(kls).mean()
    nelbo = rec + beta * kl
    return nelbo.reshape(()), kl.reshape(()), rec.reshape(())
