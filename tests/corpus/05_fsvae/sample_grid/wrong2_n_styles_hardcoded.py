"""
expect: fail
mistake: Hard-codes 20 styles instead of using n_styles.
keywords: n_styles, shape
uses:
"""
import torch
import torch.nn.functional as F


def sample_grid(model, n_styles=20, generator=None):
    z = torch.randn(20, model.z_dim, generator=generator)  # 20 columns
    rows = []
    with torch.no_grad():
        for k in range(10):
            y = F.one_hot(torch.full((n_styles,), k), 10).float()
            rows.append(model.decode(z, y))
    grid = torch.stack(rows).reshape(10, n_styles, *model.image_shape)
    return torch.clip(grid, 0, 1)
