"""
expect: pass
mistake:
keywords:
"""

import torch


def kl_normal(qm, qv, pm, pv):
    out_dtype = torch.promote_types(torch.result_type(qm, qv), torch.result_type(pm, pv))
    qm, qv, pm, pv = qm.double(), qv.double(), pm.double(), pv.double()
    r = qv / pv
    kl = 0.5 * (r - 1 - torch.log(r) + (qm - pm) ** 2 / pv)
    return kl.sum(-1).to(out_dtype)
