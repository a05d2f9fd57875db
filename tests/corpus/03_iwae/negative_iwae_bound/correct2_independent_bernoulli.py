"""
expect: pass
mistake:
keywords:
uses: log_mean_exp
"""
import torch
import torch.distributions as D


def negative_iwae_bound(model, x, iw):
    m, v = model.encode(x)
    q = D.Independent(D.Normal(m, v.sqrt()), 1)
    z = q.rsample((iw,))  # (iw, B, Z)
    log_qz = q.log_prob(z)  # (iw, B)
    zf = z.flatten(0, 1)
    px = D.Independent(D.Bernoulli(logits=model.decode(zf).view(iw, x.shape[0], -1)), 1)
    log_px = px.log_prob(x.expand(iw, *x.shape))  # (iw, B)
    log_pz = model.log_prior(zf).view(iw, -1)
    log_w = log_px + log_pz - log_qz
    niwae = -log_mean_exp(log_w, 0).mean()
    return niwae, (log_qz - log_pz).mean(), -log_px.mean()
