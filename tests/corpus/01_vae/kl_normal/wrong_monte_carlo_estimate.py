"""
expect: fail
mistake: estimates the KL from one random sample instead of the closed form: noisy, not the analytic value asked for
keywords: analytic, closed form
"""

import math
import torch


def kl_normal(qm, qv, pm, pv):
    z = qm + torch.sqrt(qv) * torch.randn_like(qm * pm)
    log_q = -0.5 * (math.log(2 * math.pi) + torch.log(qv) + (z - qm) ** 2 / qv)
    log_p = -0.5 * (math.log(2 * math.pi) + torch.log(pv) + (z - pm) ** 2 / pv)
    return (log_q - log_p).sum(-1)
