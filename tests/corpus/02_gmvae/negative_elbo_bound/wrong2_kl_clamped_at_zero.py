"""
expect: fail
mistake: clamps each single-sample KL estimate at 0: the estimate can be negative, clamping biases it upward
keywords: negative, bias, clamp
"""



def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    kl = (log_normal(z, m, v) - log_normal_mixture(z, pm, pv)).clamp(min=0).mean()  # a KL is never negative
    return rec + kl, kl, rec
