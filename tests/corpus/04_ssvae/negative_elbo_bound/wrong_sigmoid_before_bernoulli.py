"""
expect: fail
mistake: Applies a sigmoid to the decoder output and passes the probabilities to log_bernoulli_with_logits, which expects logits (a double sigmoid).
keywords: logits, sigmoid
uses: duplicate, sample_gaussian, log_bernoulli_with_logits, kl_normal, kl_cat
"""
import math

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    Y = model.y_dim
    B = x.shape[0]

    logits = model.classify(x)
    q = F.softmax(logits, dim=-1)
    log_q = F.log_softmax(logits, dim=-1)

    x_rep = duplicate(x, Y)
    y_rep = torch.eye(Y, dtype=x.dtype, device=x.device).repeat_interleave(B, dim=0)

    m, v = model.encode(x_rep, y_rep)
    z = sample_gaussian(m, v)
    probs = torch.sigmoid(model.decode(z, y_rep))
    rec_pairs = -log_bernoulli_with_logits(x_rep, probs)
    kl_pairs = kl_normal(m, v, *model.prior())

    rec_by = rec_pairs.reshape(Y, B).t()
    kl_by = kl_pairs.reshape(Y, B).t()

    rec = (q * rec_by).sum(dim=1).mean()
    kl_z = (q * kl_by).sum(dim=1).mean()

    log_p = torch.full_like(log_q, -math.log(Y))
    kl_y = kl_cat(q, log_q, log_p).mean()

    nelbo = rec + kl_z + kl_y
    return nelbo, kl_z, kl_y, rec
