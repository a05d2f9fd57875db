"""
expect: fail
mistake: Uses the encoder mean m as every code instead of sampling z ~ q(z|x): no importance sampling happens and the bound is not the IWAE bound.
keywords: sample, reparameterisation
uses: duplicate, log_bernoulli_with_logits, log_normal, log_mean_exp
"""
import torch


def negative_iwae_bound(model, x, iw):
    B = x.shape[0]
    m, v = model.encode(x)
    m_rep, v_rep, x_rep = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = m_rep

    log_px = log_bernoulli_with_logits(x_rep, model.decode(z))
    log_pz = model.log_prior(z)
    log_qz = log_normal(z, m_rep, v_rep)

    log_w = (log_px + log_pz - log_qz).reshape(iw, B)
    niwae = -log_mean_exp(log_w, 0).mean()
    return niwae, (log_qz - log_pz).mean(), -log_px.mean()
