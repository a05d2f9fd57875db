"""
expect: fail
mistake: samples z from the prior instead of the encoder's posterior q(z|x) for the reconstruction
keywords: posterior, prior, encoder
"""



def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(pm.expand_as(m), pv.expand_as(v))  # z ~ p(z)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, pm, pv).mean()
    return rec + beta * kl, kl, rec
