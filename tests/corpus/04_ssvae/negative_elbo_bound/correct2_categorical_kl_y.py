"""
expect: pass
mistake:
keywords:
uses: sample_gaussian, log_bernoulli_with_logits, kl_normal
"""
import torch
import torch.distributions as D


def negative_elbo_bound(model, x):
    Y, B = model.y_dim, x.shape[0]
    logits = model.classify(x)
    qy = D.Categorical(logits=logits)
    prior_y = D.Categorical(probs=torch.full_like(logits, 1.0 / Y))
    kl_y = D.kl_divergence(qy, prior_y).mean()
    rec_cols, kl_cols = [], []
    for k in range(Y):
        y = torch.zeros(B, Y, dtype=x.dtype, device=x.device)
        y[:, k] = 1.0
        m, v = model.encode(x, y)
        z = sample_gaussian(m, v)
        rec_cols.append(-log_bernoulli_with_logits(x, model.decode(z, y)))
        kl_cols.append(kl_normal(m, v, *model.prior()))
    probs = qy.probs  # (B, Y)
    rec = (probs * torch.stack(rec_cols, 1)).sum(1).mean()
    kl_z = (probs * torch.stack(kl_cols, 1)).sum(1).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec
