"""
expect: pass
mistake:
keywords:
uses: sample_gaussian, log_bernoulli_with_logits, kl_normal, kl_cat
"""
import math

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    Y = model.y_dim
    B = x.shape[0]
    logits = model.classify(x)
    q = F.softmax(logits, dim=1)
    log_q = F.log_softmax(logits, dim=1)
    pm, pv = model.prior()

    rec = 0
    kl_z = 0
    for k in range(Y):
        y = F.one_hot(torch.full((B,), k, dtype=torch.long, device=x.device), Y).to(x.dtype)
        m, v = model.encode(x, y)
        z = sample_gaussian(m, v)
        rec_k = -log_bernoulli_with_logits(x, model.decode(z, y))  # (B,)
        kl_k = kl_normal(m, v, pm, pv)  # (B,)
        rec = rec + q[:, k] * rec_k
        kl_z = kl_z + q[:, k] * kl_k

    rec = rec.mean()
    kl_z = kl_z.mean()
    log_p = torch.log(torch.ones_like(q) / Y)
    kl_y = kl_cat(q, log_q, log_p).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec
