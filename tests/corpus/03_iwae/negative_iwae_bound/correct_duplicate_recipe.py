"""
expect: pass
mistake:
keywords:
uses: duplicate, sample_gaussian, log_bernoulli_with_logits, log_normal, log_mean_exp
"""
import torch


def negative_iwae_bound(model, x, iw):
    B = x.shape[0]
    m, v = model.encode(x)

    m_rep = duplicate(m, iw)
    v_rep = duplicate(v, iw)
    x_rep = duplicate(x, iw)
    z = sample_gaussian(m_rep, v_rep)  # (iw * B, Z)

    log_px = log_bernoulli_with_logits(x_rep, model.decode(z))
    log_pz = model.log_prior(z)
    log_qz = log_normal(z, m_rep, v_rep)

    log_w = (log_px + log_pz - log_qz).reshape(iw, B)
    niwae = -log_mean_exp(log_w, 0).mean()

    kl = (log_qz - log_pz).mean()
    rec = -log_px.mean()
    return niwae, kl, rec
