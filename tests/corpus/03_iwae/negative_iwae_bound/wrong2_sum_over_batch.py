"""
expect: fail
mistake: Sums the per-image bounds over the batch instead of averaging them.
keywords: sum, batch, mean
uses: duplicate, sample_gaussian, log_bernoulli_with_logits, log_normal, log_mean_exp
"""
import torch


def negative_iwae_bound(model, x, iw):
    B = x.shape[0]
    m, v = model.encode(x)
    m_s, v_s, x_s = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = sample_gaussian(m_s, v_s)
    log_px = log_bernoulli_with_logits(x_s, model.decode(z))
    log_pz = model.log_prior(z)
    log_qz = log_normal(z, m_s, v_s)
    log_w = (log_px + log_pz - log_qz).reshape(iw, B)
    niwae = -log_mean_exp(log_w, 0).sum()
    return niwae, (log_qz - log_pz).mean(), -log_px.mean()
