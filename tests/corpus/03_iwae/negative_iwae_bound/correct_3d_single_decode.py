"""
expect: pass
mistake:
keywords:
uses: log_bernoulli_with_logits, log_normal
"""
import math

import torch


def negative_iwae_bound(model, x, iw):
    m, v = model.encode(x)  # (B, Z)
    B, Z = m.shape
    eps = torch.randn(iw, B, Z, dtype=m.dtype, device=m.device)
    z = m + v.sqrt() * eps  # (iw, B, Z), broadcast over the samples

    logits = model.decode(z)  # the MLP works on the leading dims
    log_px = log_bernoulli_with_logits(x.expand(iw, -1, -1), logits)  # (iw, B)
    # the prior wants rows: flatten, then back to (iw, B)
    log_pz = model.log_prior(z.reshape(iw * B, Z)).reshape(iw, B)
    log_qz = log_normal(z, m.expand_as(z), v.expand_as(z))

    log_w = log_px + log_pz - log_qz
    niwae = -(torch.logsumexp(log_w, dim=0) - math.log(iw)).mean()
    kl = (log_qz - log_pz).mean()
    rec = -log_px.mean()
    return niwae, kl, rec
