"""
expect: fail
mistake: replaces the mixture by one Gaussian with the averaged means and variances
keywords: mixture, prior
"""



def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    kl = (log_normal(z, m, v) - log_normal(z, pm.mean(1), pv.mean(1))).mean()  # the mixture's average Gaussian
    return rec + kl, kl, rec
