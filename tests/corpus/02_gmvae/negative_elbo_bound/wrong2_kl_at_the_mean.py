"""
expect: fail
mistake: evaluates log q - log p at the posterior mean instead of at the sample z: biased KL
keywords: sample, same z, mean
"""



def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    kl = (log_normal(m, m, v) - log_normal_mixture(m, pm, pv)).mean()  # plug in the mean
    return rec + kl, kl, rec
