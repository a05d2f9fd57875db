"""
expect: pass
mistake:
keywords:
uses:
"""
import torch


def sample_grid(model, n_styles=20, generator=None):
    z = torch.randn(n_styles, model.z_dim, generator=generator)
    # style-major rows: s * 10 + k is style s with label k
    z_all = z.repeat_interleave(10, dim=0)
    y_all = torch.eye(10).repeat(n_styles, 1)
    with torch.no_grad():
        out = model.decode(z_all, y_all)
    out = out.reshape(n_styles, 10, *model.image_shape).transpose(0, 1)
    return torch.clip(out, 0.0, 1.0)
