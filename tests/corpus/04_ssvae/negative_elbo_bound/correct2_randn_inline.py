"""
expect: pass
mistake:
keywords:
uses:
"""
import math

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    Y, B = model.y_dim, x.shape[0]
    logits = model.classify(x)
    q, log_q = torch.softmax(logits, -1), torch.log_softmax(logits, -1)  # (B, Y)
    labels = torch.arange(Y, device=x.device).repeat_interleave(B)  # 0 x B, 1 x B, ...
    y_rep = F.one_hot(labels, Y).to(x.dtype)
    x_rep = x.repeat(Y, 1)
    m, v = model.encode(x_rep, y_rep)
    z = m + v.sqrt() * torch.randn(m.shape, dtype=m.dtype, device=m.device)
    rec = F.binary_cross_entropy_with_logits(model.decode(z, y_rep), x_rep, reduction="none").sum(-1)
    pm, pv = model.prior()
    kl = 0.5 * (torch.log(pv) - torch.log(v) + (v + (m - pm) ** 2) / pv - 1).sum(-1)
    w = q.T.reshape(-1)  # weight of pair (y, b) is q(y | x_b), same order as labels
    rec_, kl_z = (w * rec).sum() / B, (w * kl).sum() / B
    kl_y = (q * (log_q + math.log(Y))).sum(-1).mean()
    return rec_ + kl_z + kl_y, kl_z, kl_y, rec_
