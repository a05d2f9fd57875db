"""
expect: fail
mistake: Duplicates with repeat_interleave (image-major rows) but reshapes to (iw, B) as for repetition-major rows, so each log-mean-exp mixes samples of different images.
keywords: interleave, reshape, order
uses: sample_gaussian, log_bernoulli_with_logits, log_normal, log_mean_exp
"""
import torch


def negative_iwae_bound(model, x, iw):
    B = x.shape[0]
    m, v = model.encode(x)
    m_rep = m.repeat_interleave(iw, dim=0)
    v_rep = v.repeat_interleave(iw, dim=0)
    x_rep = x.repeat_interleave(iw, dim=0)
    z = sample_gaussian(m_rep, v_rep)

    log_px = log_bernoulli_with_logits(x_rep, model.decode(z))
    log_pz = model.log_prior(z)
    log_qz = log_normal(z, m_rep, v_rep)

    log_w = (log_px + log_pz - log_qz).reshape(iw, B)
    niwae = -log_mean_exp(log_w, 0).mean()
    return niwae, (log_qz - log_pz).mean(), -log_px.mean()
