"""
expect: fail
mistake: uses only the first component of the mixture as the prior
keywords: mixture, prior, component
"""



def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    kl = (log_normal(z, m, v) - log_normal(z, pm[:, 0], pv[:, 0])).mean()
    return rec + kl, kl, rec
