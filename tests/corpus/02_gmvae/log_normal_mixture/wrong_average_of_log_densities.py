"""
expect: fail
mistake: averages the components' log-densities (the Jensen lower bound) instead of taking the log of the average density
keywords: logsumexp, average
"""

import torch


def log_normal_mixture(z, m, v):
    return log_normal(z.unsqueeze(1), m, v).mean(dim=1)
