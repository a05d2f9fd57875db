"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def sample_grid(model, n_styles=20, generator=None):
    # any fixed layout of independent N(0, 1) draws is fine: draw (Z, S) and transpose
    z = torch.randn(model.z_dim, n_styles, generator=generator).T.contiguous()
    eye = torch.eye(10)
    with torch.no_grad():
        rows = [model.decode(z, eye[k].expand(n_styles, 10)) for k in range(10)]
    grid = torch.stack(rows, dim=0)
    grid = torch.minimum(torch.maximum(grid, torch.zeros_like(grid)), torch.ones_like(grid))
    return grid.reshape(10, n_styles, *model.image_shape)
