"""
expect: pass
mistake:
keywords:
uses: log_bernoulli_with_logits
"""
import math

import torch


def negative_iwae_bound(model, x, iw):
    B = x.shape[0]
    m, v = model.encode(x)
    m_rep = torch.cat([m] * iw)
    v_rep = torch.cat([v] * iw)
    x_rep = torch.cat([x] * iw)

    eps = torch.randn_like(m_rep)
    z = m_rep + torch.sqrt(v_rep) * eps
    # log N(z; m, v) with z - m = sqrt(v) * eps
    log_qz = -0.5 * (torch.log(2 * math.pi * v_rep) + eps ** 2).sum(-1)
    log_pz = model.log_prior(z)
    log_px = log_bernoulli_with_logits(x_rep, model.decode(z))

    a = (log_px + log_pz - log_qz).view(iw, B)
    a_max = a.max(dim=0, keepdim=True).values
    lme = a_max.squeeze(0) + torch.log(torch.exp(a - a_max).mean(dim=0))

    niwae = -lme.mean()
    kl = (log_qz - log_pz).mean()
    rec = -log_px.mean()
    return niwae, kl, rec
