"""
expect: fail
mistake: Ignores log_p and assumes the uniform prior log p = -log Y; wrong as soon as the prior is not uniform.
keywords: prior, log_p, uniform
uses:
"""
import math

import torch


def kl_cat(q, log_q, log_p):
    Y = q.shape[-1]
    return (q * (log_q + math.log(Y))).sum(-1)
