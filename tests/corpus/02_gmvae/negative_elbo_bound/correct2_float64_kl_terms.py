"""
expect: pass
mistake:
keywords:
"""



def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    log_q = log_normal(z.double(), m.double(), v.double())
    log_p = log_normal_mixture(z.double(), pm.double(), pv.double())
    kl = (log_q - log_p).mean().to(rec.dtype)
    return rec + kl, kl, rec
