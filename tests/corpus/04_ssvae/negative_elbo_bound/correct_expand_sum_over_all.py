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
    B, Dx = x.shape
    logits = model.classify(x)
    q, log_q = F.softmax(logits, -1), F.log_softmax(logits, -1)

    eye = torch.eye(Y, dtype=x.dtype, device=x.device)
    x_all = x.unsqueeze(0).expand(Y, B, Dx).reshape(Y * B, Dx)
    y_all = eye.unsqueeze(1).expand(Y, B, Y).reshape(Y * B, Y)

    m, v = model.encode(x_all, y_all)
    z = sample_gaussian(m, v)
    rec_yb = -log_bernoulli_with_logits(x_all, model.decode(z, y_all)).view(Y, B)
    kl_yb = kl_normal(m, v, *model.prior()).view(Y, B)

    weights = q.T  # (Y, B)
    rec = (weights * rec_yb).sum() / B
    kl_z = (weights * kl_yb).sum() / B
    log_p = log_q.new_full((1, Y), -math.log(Y))
    kl_y = kl_cat(q, log_q, log_p).sum() / B
    nelbo = rec + kl_z + kl_y
    return nelbo, kl_z, kl_y, rec
