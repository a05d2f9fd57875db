"""
expect: fail
mistake: kl and rec are summed over the iw samples of each image before averaging over the batch, so they are iw times too large; they are means over all iw * B samples.
keywords: mean, samples
uses: duplicate, sample_gaussian, log_bernoulli_with_logits, log_normal, log_mean_exp
"""
import torch


def negative_iwae_bound(model, x, iw):
    B = x.shape[0]
    m, v = model.encode(x)
    m_rep, v_rep, x_rep = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = sample_gaussian(m_rep, v_rep)

    log_px = log_bernoulli_with_logits(x_rep, model.decode(z)).reshape(iw, B)
    log_pz = model.log_prior(z).reshape(iw, B)
    log_qz = log_normal(z, m_rep, v_rep).reshape(iw, B)

    niwae = -log_mean_exp(log_px + log_pz - log_qz, 0).mean()
    kl = (log_qz - log_pz).sum(dim=0).mean()
    rec = -log_px.sum(dim=0).mean()
    return niwae, kl, rec
