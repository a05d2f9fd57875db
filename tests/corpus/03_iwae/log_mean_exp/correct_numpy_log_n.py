"""
expect: pass
mistake:
keywords:
uses:
"""
import numpy as np
import torch


def log_mean_exp(x, dim):
    return torch.logsumexp(x, dim) - float(np.log(x.shape[dim]))
