"""
expect: fail
mistake: Adds the likelihood's noise (std sqrt(0.1)) to the means: the grid should show the means, not samples from p(x|y, z).
keywords: mean, noise
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
            mean = model.decode(z, y)
            rows.append(mean + model.x_var ** 0.5 * torch.randn(mean.shape, generator=generator))
    grid = torch.stack(rows).reshape(10, n_styles, *model.image_shape)
    return torch.clip(grid, 0, 1)
