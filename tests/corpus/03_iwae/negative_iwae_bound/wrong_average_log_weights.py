"""
expect: fail
mistake: Averages the log-weights over the samples instead of taking their log-mean-exp: that is the iw-sample ELBO, not the importance-weighted bound.
keywords: elbo, log-mean-exp
uses: duplicate, sample_gaussian, log_bernoulli_with_logits, log_normal
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
    niwae = -log_w.mean(dim=0).mean()
    kl = (log_qz - log_pz).mean()
    rec = -log_px.mean()
    return niwae, kl, rec
