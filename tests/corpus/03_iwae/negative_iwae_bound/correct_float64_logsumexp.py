"""
expect: pass
mistake:
keywords:
uses: duplicate, sample_gaussian, log_normal
"""
import math

import torch
import torch.nn.functional as F


def negative_iwae_bound(model, x, iw):
    m, v = model.encode(x)
    mm, vv, xx = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = sample_gaussian(mm, vv)

    logits = model.decode(z)
    rec_rows = F.binary_cross_entropy_with_logits(logits, xx, reduction="none").sum(dim=1)  # -log p(x|z)
    kl_rows = log_normal(z, mm, vv) - model.log_prior(z)  # log q - log p

    log_w = -(rec_rows + kl_rows)
    # the log-mean-exp in double precision, then back to the model's dtype
    lw = log_w.double().view(iw, -1)
    bound = (torch.logsumexp(lw, dim=0) - math.log(iw)).to(log_w.dtype)

    return -bound.mean(), kl_rows.mean(), rec_rows.mean()
