"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def sample_grid(model, n_styles=20, generator=None):
    z = torch.randn(n_styles, model.z_dim, generator=generator)
    Y = model.y_dim
    with torch.no_grad():
        y = torch.eye(Y).repeat_interleave(n_styles, dim=0)  # label-major: (Y * n_styles, Y)
        means = model.decode(z.repeat(Y, 1), y)  # z repeated whole for every label
    return means.view(Y, n_styles, *model.image_shape).clamp(0, 1)
