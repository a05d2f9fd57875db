"""
expect: pass
mistake:
keywords:
"""



def negative_elbo_bound(model, x, beta=1.0):
    S = 3  # average the reconstruction term over S samples per image (same expectation, less noise)
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m.expand(S, *m.shape), v.expand(S, *v.shape))  # (S, B, Z)
    logits = model.decode(z.reshape(-1, z.shape[-1])).reshape(S, *x.shape)
    rec = -log_bernoulli_with_logits(x.expand_as(logits), logits).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
