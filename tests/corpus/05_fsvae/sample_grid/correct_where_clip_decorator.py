"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.nn.functional as F


@torch.no_grad()
def sample_grid(model, n_styles=20, generator=None):
    z = torch.randn((n_styles, model.z_dim), generator=generator)
    labels = torch.arange(10).repeat_interleave(n_styles)  # 0,0,...,1,1,...
    y = F.one_hot(labels, num_classes=10).float()
    means = model.decode(z.repeat(10, 1), y)
    means = torch.where(means < 0, torch.zeros_like(means), means)
    means = torch.where(means > 1, torch.ones_like(means), means)
    return means.reshape((10, n_styles) + tuple(model.image_shape))
