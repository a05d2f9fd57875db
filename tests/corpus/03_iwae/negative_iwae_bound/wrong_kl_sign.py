"""
expect: fail
mistake: The kl diagnostic has the wrong sign: it averages log p(z) - log q(z|x) instead of log q(z|x) - log p(z).
keywords: sign
uses: duplicate, sample_gaussian, log_bernoulli_with_logits, log_normal, log_mean_exp
"""
import torch


def negative_iwae_bound(model, x, iw):
    B = x.shape[0]
    m, v = model.encode(x)
    m_rep, v_rep, x_rep = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = sample_gaussian(m_rep, v_rep)

    log_px = log_bernoulli_with_logits(x_rep, model.decode(z))
    log_pz = model.log_prior(z)
    log_qz = log_normal(z, m_rep, v_rep)

    log_w = (log_px + log_pz - log_qz).reshape(iw, B)
    niwae = -log_mean_exp(log_w, 0).mean()
    kl = (log_pz - log_qz).mean()
    rec = -log_px.mean()
    return niwae, kl, rec
