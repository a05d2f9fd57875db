"""
expect: fail
mistake: Picks the classifier's most likely label (argmax) and computes the bound for that label only, instead of summing over all labels weighted by q(y|x); no gradient reaches the classifier through the choice.
keywords: sum, labels, argmax
uses: sample_gaussian, log_bernoulli_with_logits, kl_normal, kl_cat
"""
import math

import torch
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    Y = model.y_dim
    logits = model.classify(x)
    q = F.softmax(logits, dim=-1)
    log_q = F.log_softmax(logits, dim=-1)

    y = F.one_hot(logits.argmax(dim=-1), Y).to(x.dtype)
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z, y)).mean()
    kl_z = kl_normal(m, v, *model.prior()).mean()

    log_p = torch.full_like(log_q, -math.log(Y))
    kl_y = kl_cat(q, log_q, log_p).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec
