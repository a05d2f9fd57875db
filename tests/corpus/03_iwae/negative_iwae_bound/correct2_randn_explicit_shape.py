"""
expect: pass
mistake:
keywords:
uses: log_normal
"""
import math

import torch
import torch.nn.functional as F


def negative_iwae_bound(model, x, iw):
    B = x.shape[0]
    m, v = model.encode(x)  # (B, Z)
    eps = torch.randn(iw, B, m.shape[1], dtype=m.dtype, device=m.device)
    z = (m + v.sqrt() * eps).reshape(iw * B, -1)  # row r * B + b is for image b
    m_s, v_s, x_s = m.repeat(iw, 1), v.repeat(iw, 1), x.repeat(iw, 1)
    log_px = -F.binary_cross_entropy_with_logits(model.decode(z), x_s, reduction="none").sum(-1)
    log_pz = model.log_prior(z)
    log_qz = log_normal(z, m_s, v_s)
    log_w = (log_px + log_pz - log_qz).view(iw, B)
    niwae = -(torch.logsumexp(log_w, dim=0) - math.log(iw)).mean()
    return niwae, (log_qz - log_pz).mean(), -log_px.mean()
