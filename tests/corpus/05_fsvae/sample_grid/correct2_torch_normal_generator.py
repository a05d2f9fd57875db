"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.nn.functional as F


def sample_grid(model, n_styles=20, generator=None):
    z = torch.normal(0.0, 1.0, size=(n_styles, model.z_dim), generator=generator)
    rows = []
    with torch.no_grad():
        for k in range(model.y_dim):
            y = F.one_hot(torch.tensor([k] * n_styles), model.y_dim).float()
            rows.append(model.decode(z, y).clip(0, 1))
    return torch.stack(rows).view(model.y_dim, n_styles, *model.image_shape)
