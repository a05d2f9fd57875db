"""
expect: pass
mistake:
keywords:
uses: duplicate, sample_gaussian, log_bernoulli_with_logits, kl_normal, kl_cat
"""
import math

import torch


def negative_elbo_bound(model, x):
    Y, B = model.y_dim, x.shape[0]
    logits = model.classify(x)
    y_rep = torch.eye(Y, dtype=x.dtype, device=x.device).repeat_interleave(B, dim=0)
    x_rep = duplicate(x, Y)
    m, v = model.encode(x_rep, y_rep)
    z = sample_gaussian(m, v)
    rec_p = -log_bernoulli_with_logits(x_rep, model.decode(z, y_rep)).double().view(Y, B)
    kl_p = kl_normal(m, v, *model.prior()).double().view(Y, B)
    log_q = torch.log_softmax(logits.double(), -1)  # (B, Y), weights in float64
    q = log_q.exp()
    rec = torch.einsum("by,yb->b", q, rec_p).mean()
    kl_z = torch.einsum("by,yb->b", q, kl_p).mean()
    kl_y = kl_cat(q, log_q, torch.full_like(log_q, -math.log(Y))).mean()
    out = [t.to(x.dtype) for t in (rec + kl_z + kl_y, kl_z, kl_y, rec)]
    return tuple(out)
