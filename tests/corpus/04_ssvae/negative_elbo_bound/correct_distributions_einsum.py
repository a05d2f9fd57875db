"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.distributions as D
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    Y, B = model.y_dim, x.shape[0]
    logits = model.classify(x)
    q = F.softmax(logits, dim=-1)

    x_rep = torch.cat([x] * Y, dim=0)
    labels = torch.arange(Y, device=x.device).repeat_interleave(B)
    y_rep = F.one_hot(labels, Y).to(x.dtype)

    m, v = model.encode(x_rep, y_rep)
    qz = D.Normal(m, v.sqrt())
    z = qz.rsample()
    pm, pv = model.prior()
    pz = D.Normal(pm, pv.sqrt())

    kl_pairs = D.kl_divergence(qz, pz).sum(-1)
    rec_pairs = F.binary_cross_entropy_with_logits(model.decode(z, y_rep), x_rep, reduction="none").sum(-1)

    # (Y, B) per-pair terms weighted by q(y|x) of shape (B, Y)
    rec = torch.einsum("by,yb->b", q, rec_pairs.view(Y, B)).mean()
    kl_z = torch.einsum("by,yb->b", q, kl_pairs.view(Y, B)).mean()

    uniform = D.Categorical(logits=torch.zeros_like(logits))
    kl_y = D.kl_divergence(D.Categorical(logits=logits), uniform).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec
