"""
expect: fail
mistake: Builds the pairs style-major but reshapes label-major, so rows and columns mix labels and styles.
keywords: order, layout, label
uses:
"""
import torch


def sample_grid(model, n_styles=20, generator=None):
    z = torch.randn(n_styles, model.z_dim, generator=generator)
    with torch.no_grad():
        zz = z.repeat_interleave(10, dim=0)  # z0 x10, z1 x10, ...: style-major
        y = torch.eye(10).repeat(n_styles, 1)  # labels 0..9, 0..9, ...: style-major too
        means = model.decode(zz, y)
    return means.reshape(10, n_styles, *model.image_shape).clip(0, 1)  # but read back label-major
