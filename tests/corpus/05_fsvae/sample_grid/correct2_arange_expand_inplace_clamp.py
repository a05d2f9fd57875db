"""
expect: pass
mistake:
keywords:
uses:
"""
import torch
import torch.nn.functional as F


def sample_grid(model, n_styles=20, generator=None):
    z = torch.randn(n_styles, model.z_dim, generator=generator)
    labels = torch.arange(10)[:, None].expand(10, n_styles).reshape(-1)
    y = F.one_hot(labels, 10).to(z.dtype)
    zz = z.unsqueeze(0).expand(10, n_styles, model.z_dim).reshape(-1, model.z_dim)
    with torch.no_grad():
        out = model.decode(zz, y).reshape(10, n_styles, *model.image_shape)
        out.clamp_(0.0, 1.0)
    return out
