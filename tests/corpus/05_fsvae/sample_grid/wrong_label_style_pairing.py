"""
expect: fail
mistake: Repeats the styles block-wise (z.repeat) but also the labels block-wise (eye.repeat), so after the reshape a row mixes labels and a column mixes styles.
keywords: label, order, row
uses:
"""
import torch


def sample_grid(model, n_styles=20, generator=None):
    z = torch.randn(n_styles, model.z_dim, generator=generator)
    z_all = z.repeat(10, 1)
    y_all = torch.eye(10).repeat(n_styles, 1)
    with torch.no_grad():
        means = model.decode(z_all, y_all)
    return means.reshape(10, n_styles, *model.image_shape).clamp(0, 1)
