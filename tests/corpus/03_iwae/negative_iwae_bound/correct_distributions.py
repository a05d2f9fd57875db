"""
expect: pass
mistake:
keywords:
uses:
"""
import math

import torch
import torch.distributions as D
import torch.nn.functional as F


def negative_iwae_bound(model, x, iw):
    m, v = model.encode(x)
    B, Z = m.shape
    q = D.Normal(m, v.sqrt())
    z = q.rsample((iw,))  # (iw, B, Z)
    log_qz = q.log_prob(z).sum(-1)  # (iw, B)

    z_flat = z.reshape(-1, Z)
    logits = model.decode(z_flat)
    log_px = -F.binary_cross_entropy_with_logits(logits, x.repeat(iw, 1), reduction="none").sum(-1)
    log_px = log_px.view(iw, B)
    log_pz = model.log_prior(z_flat).view(iw, B)

    log_w = log_px + log_pz - log_qz
    bound = torch.logsumexp(log_w, 0) - math.log(iw)
    return -bound.mean(), (log_qz - log_pz).mean(), -log_px.mean()
