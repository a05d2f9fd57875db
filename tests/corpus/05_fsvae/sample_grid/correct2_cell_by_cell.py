"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def sample_grid(model, n_styles=20, generator=None):
    z = torch.randn(n_styles, model.z_dim, generator=generator)
    grid = torch.empty(10, n_styles, *model.image_shape)
    with torch.no_grad():
        for k in range(10):
            y = torch.zeros(1, 10)
            y[0, k] = 1.0
            for s in range(n_styles):
                grid[k, s] = model.decode(z[s : s + 1], y).reshape(model.image_shape)
    return torch.minimum(torch.maximum(grid, torch.zeros(())), torch.ones(()))
