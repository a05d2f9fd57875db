"""
expect: pass
mistake:
keywords:
uses: duplicate, sample_gaussian, log_bernoulli_with_logits
"""
import math

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    Y = model.y_dim
    B = x.shape[0]
    logits = model.classify(x)
    log_q = F.log_softmax(logits, dim=-1)
    q = log_q.exp()

    x_rep = duplicate(x, Y)
    y_rep = torch.eye(Y, dtype=x.dtype, device=x.device).repeat_interleave(B, dim=0)
    m, v = model.encode(x_rep, y_rep)
    z = sample_gaussian(m, v)

    # analytic KL(N(m, v) || N(pm, pv)) written out
    pm, pv = model.prior()
    kl_pairs = 0.5 * (torch.log(pv / v) + (v + (m - pm) ** 2) / pv - 1).sum(-1)
    rec_pairs = -log_bernoulli_with_logits(x_rep, model.decode(z, y_rep))

    kl_z = (q.t() * kl_pairs.view(Y, B)).sum(0).mean()
    rec = (q.t() * rec_pairs.view(Y, B)).sum(0).mean()
    # KL(q || uniform) = log Y - H(q)
    kl_y = ((q * log_q).sum(-1) + math.log(Y)).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec
