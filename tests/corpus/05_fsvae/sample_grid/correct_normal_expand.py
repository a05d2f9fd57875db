"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def sample_grid(model, n_styles=20, generator=None):
    Z = model.z_dim
    z = torch.normal(torch.zeros(n_styles, Z), torch.ones(n_styles, Z), generator=generator)
    zz = z.unsqueeze(0).expand(10, n_styles, Z).reshape(-1, Z)
    yy = torch.eye(10).unsqueeze(1).expand(10, n_styles, 10).reshape(-1, 10)
    with torch.no_grad():
        mean = model.decode(zz, yy)
    C, H, W = model.image_shape
    return mean.view(10, n_styles, C, H, W).clamp(min=0, max=1)
