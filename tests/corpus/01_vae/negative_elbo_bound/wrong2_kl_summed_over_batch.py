"""
expect: fail
mistake: sums the KL over the batch but averages the reconstruction: the KL is B times too large
keywords: sum, batch
"""



def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, pm, pv).sum()
    return rec + beta * kl, kl, rec
