"""
expect: fail
mistake: Samples one label per image from q(y|x) instead of summing over all labels: the estimate is noisy and, without a score-function term, gives the classifier no gradient for rec and kl_z.
keywords: sum, labels, sample
uses: sample_gaussian, log_bernoulli_with_logits, kl_normal, kl_cat
"""
import math

import torch
import torch.distributions as D
import torch.nn.functional as F


def negative_elbo_bound(model, x):
    Y = model.y_dim
    logits = model.classify(x)
    q = F.softmax(logits, dim=-1)
    log_q = F.log_softmax(logits, dim=-1)

    labels = D.Categorical(logits=logits).sample()
    y = F.one_hot(labels, Y).to(x.dtype)
    m, v = model.encode(x, y)
    z = sample_gaussian(m, v)
    rec = -log_bernoulli_with_logits(x, model.decode(z, y)).mean()
    kl_z = kl_normal(m, v, *model.prior()).mean()

    kl_y = kl_cat(q, log_q, torch.full_like(log_q, -math.log(Y))).mean()
    return rec + kl_z + kl_y, kl_z, kl_y, rec
