"""
expect: fail
mistake: Averages the Bernoulli log-likelihood over the pixels instead of summing it: rec is 784 times too small.
keywords: pixel, sum, mean
uses: duplicate, sample_gaussian, log_bernoulli_with_logits, kl_normal, kl_cat
"""
import math

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    Y, B = model.y_dim, x.shape[0]
    logits = model.classify(x)
    q, log_q = F.softmax(logits, dim=-1), F.log_softmax(logits, dim=-1)
    y_rep = torch.eye(Y, dtype=x.dtype, device=x.device).repeat_interleave(B, dim=0)
    x_rep = duplicate(x, Y)
    m, v = model.encode(x_rep, y_rep)
    z = sample_gaussian(m, v)
    rec_p = F.binary_cross_entropy_with_logits(model.decode(z, y_rep), x_rep, reduction="none").mean(-1).reshape(Y, B).T  # (B, Y)
    kl_p = kl_normal(m, v, *model.prior()).reshape(Y, B).T
    log_p = torch.full_like(log_q, -math.log(Y))
    rec = (q * rec_p).sum(-1).mean()
    kl_z = (q * kl_p).sum(-1).mean()
    kl_y = kl_cat(q, log_q, log_p).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec
