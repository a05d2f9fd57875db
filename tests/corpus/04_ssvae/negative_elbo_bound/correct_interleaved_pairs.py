"""
expect: pass
mistake:
keywords:
uses: sample_gaussian, log_bernoulli_with_logits, kl_normal, kl_cat
"""
import math

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    # image-major pairs: row b * Y + k is image b with label k, so a plain
    # reshape(B, Y) puts them back in the classifier's layout
    Y = model.y_dim
    B = x.shape[0]
    logits = model.classify(x)
    q = logits.softmax(-1)
    log_q = logits.log_softmax(-1)

    x_pairs = x.repeat_interleave(Y, dim=0)
    y_pairs = torch.eye(Y, dtype=x.dtype, device=x.device).repeat(B, 1)

    m, v = model.encode(x_pairs, y_pairs)
    z = sample_gaussian(m, v)
    rec_by = -log_bernoulli_with_logits(x_pairs, model.decode(z, y_pairs)).reshape(B, Y)
    kl_by = kl_normal(m, v, *model.prior()).reshape(B, Y)

    rec = (q * rec_by).sum(-1).mean()
    kl_z = (q * kl_by).sum(-1).mean()
    kl_y = kl_cat(q, log_q, torch.full((1, Y), -math.log(Y), dtype=x.dtype, device=x.device)).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec
