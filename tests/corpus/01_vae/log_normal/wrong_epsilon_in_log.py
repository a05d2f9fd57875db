"""
expect: fail
mistake: adds 1e-8 inside the log of the variance; tiny for ordinary v but wrong by up to log 2 per dimension when v is near the encoder's floor 1e-8
keywords: epsilon, log
"""

import math
import torch


def log_normal(x, m, v):
    return -0.5 * (math.log(2 * math.pi) + torch.log(v + 1e-8) + (x - m) ** 2 / v).sum(-1)
