"""
expect: pass
mistake:
keywords:
uses: duplicate, log_bernoulli_with_logits, log_normal, log_mean_exp
"""
import torch


def negative_iwae_bound(model, x, iw):
    B = x.shape[0]
    m, v = model.encode(x)
    m_s, v_s, x_s = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    eps = m_s.new_empty(m_s.shape).normal_()
    z = m_s + eps * torch.sqrt(v_s)
    log_px = log_bernoulli_with_logits(x_s, model.decode(z))
    log_pz = model.log_prior(z)
    log_qz = log_normal(z, m_s, v_s)
    log_w = torch.stack((log_px + log_pz - log_qz).split(B))  # (iw, B)
    return -log_mean_exp(log_w, dim=0).mean(), (log_qz - log_pz).mean(), -log_px.mean()
