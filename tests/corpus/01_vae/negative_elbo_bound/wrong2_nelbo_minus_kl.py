"""
expect: fail
mistake: subtracts the KL: the negative ELBO is rec + beta * kl
keywords: sign, rec + beta * kl
"""



def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl = kl_normal(m, v, *model.prior()).mean()
    return rec - beta * kl, kl, rec
