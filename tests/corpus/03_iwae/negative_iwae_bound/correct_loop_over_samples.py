"""
expect: pass
mistake:
keywords:
uses: sample_gaussian, log_bernoulli_with_logits, log_normal, log_mean_exp
"""
import torch


def negative_iwae_bound(model, x, iw):
    m, v = model.encode(x)
    log_ws, kls, recs = [], [], []
    for _ in range(iw):
        z = sample_gaussian(m, v)
        log_px = log_bernoulli_with_logits(x, model.decode(z))
        log_pz = model.log_prior(z)
        log_qz = log_normal(z, m, v)
        log_ws.append(log_px + log_pz - log_qz)
        kls.append(log_qz - log_pz)
        recs.append(-log_px)
    log_w = torch.stack(log_ws, dim=0)  # (iw, B)
    niwae = -log_mean_exp(log_w, 0).mean()
    kl = torch.stack(kls).mean()
    rec = torch.stack(recs).mean()
    return niwae, kl, rec
