"""
expect: fail
mistake: Stacks the rows along dim 1, so the result is laid out (n_styles, 10, C, H, W) with styles first; the labels must be the first dimension.
keywords: shape, layout
uses:
"""
import torch
import torch.nn.functional as F


def sample_grid(model, n_styles=20, generator=None):
    z = torch.randn(n_styles, model.z_dim, generator=generator)
    rows = []
    with torch.no_grad():
        for k in range(10):
            y = F.one_hot(torch.full((n_styles,), k), 10).float()
            rows.append(model.decode(z, y))
    grid = torch.stack(rows, dim=1).reshape(n_styles, 10, *model.image_shape)
    return torch.clip(grid, 0, 1)
