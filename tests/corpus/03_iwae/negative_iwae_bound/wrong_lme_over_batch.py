"""
expect: fail
mistake: Takes the log-mean-exp over dimension 1 of the (iw, B) log-weights, i.e. over the images instead of over the samples.
keywords: dimension, samples
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
    niwae = -log_mean_exp(log_w, 1).mean()
    return niwae, (log_qz - log_pz).mean(), -log_px.mean()
