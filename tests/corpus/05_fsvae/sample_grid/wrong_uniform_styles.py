"""
expect: fail
mistake: Draws the styles with torch.rand, uniform on [0, 1), instead of from the prior p(z) = N(0, I).
keywords: prior, normal
uses:
"""
import torch
import torch.nn.functional as F


def sample_grid(model, n_styles=20, generator=None):
    z = torch.rand(n_styles, model.z_dim, generator=generator)
    rows = []
    with torch.no_grad():
        for k in range(10):
            y = F.one_hot(torch.full((n_styles,), k), 10).float()
            rows.append(model.decode(z, y))
    grid = torch.stack(rows).reshape(10, n_styles, *model.image_shape)
    return torch.clip(grid, 0, 1)
