"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.nn.functional as F


def sample_grid(model, n_styles=20, generator=None):
    styles = torch.empty(n_styles, model.z_dim).normal_(generator=generator)
    grid = []
    for label in range(model.y_dim):
        y = F.one_hot(torch.tensor([label] * n_styles), model.y_dim).to(styles.dtype)
        with torch.no_grad():
            mean = model.decode(styles, y)
        grid.append(mean.clamp(0, 1).reshape(n_styles, *model.image_shape))
    return torch.stack(grid, dim=0)
