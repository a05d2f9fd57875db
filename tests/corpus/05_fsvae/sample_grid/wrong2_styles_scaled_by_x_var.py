"""
expect: fail
mistake: Scales the styles by the likelihood's standard deviation sqrt(0.1): the styles are not drawn from p(z) = N(0, I).
keywords: prior, variance, style
uses:
"""
import torch
import torch.nn.functional as F


def sample_grid(model, n_styles=20, generator=None):
    z = torch.randn(n_styles, model.z_dim, generator=generator) * model.x_var**0.5
    rows = []
    with torch.no_grad():
        for k in range(10):
            y = F.one_hot(torch.full((n_styles,), k), 10).float()
            rows.append(model.decode(z, y))
    grid = torch.stack(rows).reshape(10, n_styles, *model.image_shape)
    return torch.clip(grid, 0, 1)
