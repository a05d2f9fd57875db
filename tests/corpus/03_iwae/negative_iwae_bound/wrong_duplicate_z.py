"""
expect: fail
mistake: Draws one z per image and duplicates the sample iw times, so all iw importance samples are identical and the bound is just the single-sample ELBO.
keywords: independent, samples, elbo
uses: duplicate, sample_gaussian, log_bernoulli_with_logits, log_normal, log_mean_exp
"""
import torch


def negative_iwae_bound(model, x, iw):
    B = x.shape[0]
    m, v = model.encode(x)
    z = sample_gaussian(m, v)

    z_rep = duplicate(z, iw)
    m_rep, v_rep, x_rep = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)

    log_px = log_bernoulli_with_logits(x_rep, model.decode(z_rep))
    log_pz = model.log_prior(z_rep)
    log_qz = log_normal(z_rep, m_rep, v_rep)

    log_w = (log_px + log_pz - log_qz).reshape(iw, B)
    niwae = -log_mean_exp(log_w, 0).mean()
    return niwae, (log_qz - log_pz).mean(), -log_px.mean()
