"""
expect: fail
mistake: Uses logsumexp over the samples without subtracting log(iw): that is the log of the sum of the weights, off by log(iw) nats.
keywords: log n, mean, sum
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
    niwae = -torch.logsumexp(log_w, dim=0).mean()
    return niwae, (log_qz - log_pz).mean(), -log_px.mean()
