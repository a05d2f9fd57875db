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
    logits = model.classify(x)
    q = torch.softmax(logits, dim=-1)
    log_q = torch.log_softmax(logits, dim=-1)
    eye = torch.eye(Y, dtype=x.dtype, device=x.device)

    recs, kls = [], []
    for k in range(Y):
        y = eye[k].expand(x.shape[0], Y)
        m, v = model.encode(x, y)
        z = sample_gaussian(m, v)
        recs.append(-log_bernoulli_with_logits(x, model.decode(z, y)))
        kls.append(kl_normal(m, v, *model.prior()))
    rec_by = torch.stack(recs, dim=1)  # (B, Y)
    kl_by = torch.stack(kls, dim=1)

    rec = torch.mean(torch.sum(q * rec_by, dim=1))
    kl_z = torch.mean(torch.sum(q * kl_by, dim=1))
    kl_y = torch.mean(kl_cat(q, log_q, torch.full_like(q, math.log(1.0 / Y))))
    return rec + kl_z + kl_y, kl_z, kl_y, rec
