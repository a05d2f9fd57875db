"""
expect: fail
mistake: Averages the weights themselves, log(mean(exp(log_w))): for real images the log-weights are in the hundreds of negative nats, exp underflows to 0 and the bound becomes inf.
keywords: underflow, stable, log-mean-exp
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

    w = torch.exp(log_px + log_pz - log_qz).reshape(iw, B)
    niwae = -torch.log(w.mean(dim=0)).mean()
    kl = (log_qz - log_pz).mean()
    rec = -log_px.mean()
    return niwae, kl, rec
