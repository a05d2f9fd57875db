"""
expect: fail
mistake: computes the mixture as log(mean(exp(l))): -inf/inf (NaN gradients) when the code is far from every component; use torch.logsumexp
keywords: logsumexp, underflow
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    log_p = torch.log(torch.exp(log_normal(z.unsqueeze(1), pm, pv)).mean(1))
    kl = (log_normal(z, m, v) - log_p).mean()
    return rec + kl, kl, rec
