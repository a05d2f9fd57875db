"""
expect: fail
mistake: sums the reconstruction over the batch while averaging the KL
keywords: sum, batch
"""



def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).sum()
    pm, pv = model.prior()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, pm, pv)).mean()
    return rec + kl, kl, rec
