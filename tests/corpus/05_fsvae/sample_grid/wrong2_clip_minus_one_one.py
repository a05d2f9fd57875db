"""
expect: fail
mistake: Clips to [-1, 1] instead of [0, 1]: negative means stay in the image.
keywords: clip, range, [0, 1]
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
    grid = torch.stack(rows).reshape(10, n_styles, *model.image_shape)
    return torch.clip(grid, -1, 1)
