"""
expect: fail
mistake: averages the analytic KLs to each component; that is an upper bound, not the KL to the mixture, and not the sampled estimate at z
keywords: monte carlo, mixture
"""

import torch


def negative_elbo_bound(model, x):
    m, v = model.encode(x)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    pm, pv = model.prior()
    qm, qv = m.unsqueeze(1), v.unsqueeze(1)                       # (B, 1, Z)
    kl_k = 0.5 * (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1).sum(-1)  # (B, K)
    kl = kl_k.mean(1).mean()
    return rec + kl, kl, rec
