"""
expect: fail
mistake: Returns the images as one flat batch of 10 * n_styles images instead of the (10, n_styles, C, H, W) grid.
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
    grid = torch.cat(rows).reshape(10 * n_styles, *model.image_shape)
    return torch.clip(grid, 0, 1)
