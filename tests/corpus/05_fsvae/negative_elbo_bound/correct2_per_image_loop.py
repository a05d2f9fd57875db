"""
expect: pass
mistake:
keywords:
uses: sample_gaussian, log_normal, kl_normal
"""
import torch


def negative_elbo_bound(model, x, y):
    pm, pv = model.prior()
    recs, kls = [], []
    for b in range(x.shape[0]):
        xb, yb = x[b : b + 1], y[b : b + 1]
        m, v = model.encode(xb, yb)
        mean = model.decode(sample_gaussian(m, v), yb)
        recs.append(-log_normal(xb, mean, torch.full_like(mean, model.x_var)))
        kls.append(kl_normal(m, v, pm, pv))
    rec, kl = torch.cat(recs).mean(), torch.cat(kls).mean()
    return rec + kl, kl, rec
