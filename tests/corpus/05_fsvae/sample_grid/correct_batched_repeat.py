"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def sample_grid(model, n_styles=20, generator=None):
    Y = 10
    z = torch.randn(n_styles, model.z_dim, generator=generator)
    # row k * n_styles + s: label k, style s
    z_all = z.repeat(Y, 1)
    y_all = torch.eye(Y).repeat_interleave(n_styles, dim=0)
    with torch.no_grad():
        means = model.decode(z_all, y_all)
    return means.reshape(Y, n_styles, *model.image_shape).clamp(0, 1)
