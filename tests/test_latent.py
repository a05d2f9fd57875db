"""The latent-space tools (vaelab.latent) and their figures, against truths built by hand."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402
from torch.distributions import Normal, kl_divergence  # noqa: E402

from vaelab import latent, plots  # noqa: E402
from vaelab.models import GMVAE, SSVAE, VAE  # noqa: E402
from vaelab.reference.ch01 import kl_normal  # noqa: E402


class KnownEncoder(nn.Module):
    """``encode`` returns means stored per image (the image is its own index) and fixed variances.

    Dimension 0 alternates +-1 (variance over x exactly 1), 1 is constant (0), 2 alternates +-0.05
    (0.0025, below the 0.01 criterion), 3 alternates +-0.2 (0.04, above it).
    """

    def __init__(self, n: int = 40):
        super().__init__()
        sign = torch.tensor([(-1.0) ** i for i in range(n)])
        self.register_buffer("means", torch.stack([sign, torch.full((n,), 5.0), 0.05 * sign, 0.2 * sign], 1))
        self.register_buffer("variances", torch.tensor([[0.5, 1.0, 2.0, 0.1]]).expand(n, 4).clone())
        self.z_dim = 4

    def encode(self, x):
        index = x[:, 0].long()
        return self.means[index], self.variances[index]

    def prior(self):
        return torch.zeros(1, 4), torch.ones(1, 4)


def images(n: int = 40) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float32)[:, None].expand(n, 3).clone()


@pytest.mark.parametrize("batch_size", [1, 7, 500])
def test_activity_and_active_units_on_known_means(batch_size):
    model = KnownEncoder()
    act = latent.activity(model, images(), batch_size=batch_size)
    assert torch.allclose(act, torch.tensor([1.0, 0.0, 0.0025, 0.04], dtype=torch.float64), atol=1e-12)
    assert latent.active_units(model, images(), batch_size=batch_size) == 2
    assert latent.active_units(model, images(), threshold=0.001) == 3
    assert latent.encoder_means(model, images()).shape == (40, 4)


def test_activity_keeps_the_model_mode_and_rejects_bad_input():
    model = VAE(z_dim=3, hidden=8).train()
    assert latent.activity(model, torch.rand(5, 784)).shape == (3,)
    assert model.training
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        latent.activity(model, torch.rand(784))
    with pytest.raises(ValueError, match="batch_size"):
        latent.activity(model, torch.rand(5, 784), batch_size=0)


def test_kl_per_dimension_matches_torch_distributions():
    model = KnownEncoder()
    got = latent.kl_per_dimension(model, images(), kl_normal, batch_size=9)
    m, v = model.means, model.variances
    truth = kl_divergence(Normal(m.double(), v.double().sqrt()), Normal(0.0, 1.0)).mean(0)
    assert got.shape == (4,) and torch.allclose(got, truth, atol=1e-6)
    vae = VAE(z_dim=5, hidden=8)
    x = torch.rand(12, 784)
    qm, qv = vae.encode(x)
    total = kl_normal(qm, qv, *vae.prior()).mean().item()
    assert latent.kl_per_dimension(vae, x, kl_normal).sum().item() == pytest.approx(total, rel=1e-5)


def test_kl_per_dimension_uses_the_given_function_and_says_when_it_is_wrong():
    model = KnownEncoder()
    doubled = latent.kl_per_dimension(model, images(), lambda *a: 2 * kl_normal(*a))
    assert torch.allclose(doubled, 2 * latent.kl_per_dimension(model, images(), kl_normal))
    with pytest.raises(ValueError, match="sum over the last dimension only"):
        latent.kl_per_dimension(model, images(), lambda qm, qv, pm, pv: kl_normal(qm, qv, pm, pv).sum(-1))
    with pytest.raises(ValueError, match="mixture"):
        latent.kl_per_dimension(GMVAE(z_dim=2, k=3, hidden=8), torch.rand(4, 784), kl_normal)


def test_interpolate_linear_and_spherical():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    path = latent.interpolate(a, b[None], steps=5)
    assert path.shape == (5, 2) and torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert torch.allclose(path[2], torch.tensor([1.5, 1.5]))
    arc = latent.interpolate(a, b, steps=5, mode="spherical")
    assert torch.allclose(arc.norm(dim=1), torch.full((5,), 3.0))  # equal norms stay on the circle
    assert torch.allclose(arc[2], torch.tensor([3 / math.sqrt(2), 3 / math.sqrt(2)]))
    assert torch.allclose(latent.interpolate(a, 2 * a, 3, "spherical"), latent.interpolate(a, 2 * a, 3))
    with pytest.raises(ValueError, match="steps"):
        latent.interpolate(a, b, steps=1)
    with pytest.raises(ValueError, match="mode"):
        latent.interpolate(a, b, mode="cubic")
    with pytest.raises(ValueError, match="one code"):
        latent.interpolate(torch.zeros(2, 2), b)


def test_traverse_moves_one_dimension_only():
    z = torch.tensor([0.5, -1.0, 2.0])
    codes = latent.traverse(z, 1, [-3.0, 0.0, 3.0])
    assert torch.equal(codes, torch.tensor([[0.5, -3.0, 2.0], [0.5, 0.0, 2.0], [0.5, 3.0, 2.0]]))
    assert torch.equal(z, torch.tensor([0.5, -1.0, 2.0])), "traverse changed its input"
    assert torch.equal(latent.traverse(z[None], -1, [7.0])[0], torch.tensor([0.5, -1.0, 7.0]))
    with pytest.raises(IndexError):
        latent.traverse(z, 3, [0.0])


class PixelDecoder(VAE):
    """A VAE whose decoder shows z: pixel i of the 28 x 28 image is sigmoid(logit) = z[i % Z] / 10 + 0.5."""

    def decode(self, z):
        return torch.logit((z / 10 + 0.5).clamp(1e-4, 1 - 1e-4)).repeat_interleave(784 // self.z_dim + 1, 1)[:, :784]


def test_plot_interpolation_decodes_the_path():
    model = PixelDecoder(z_dim=2, hidden=8).train()
    x_a, x_b = torch.rand(3, 784), torch.rand(3, 784)
    fig = plots.plot_interpolation(model, x_a, x_b, steps=4)
    assert isinstance(fig, Figure) and model.training
    ax = fig.axes[0]
    assert len(ax.get_xticks()) == 6 and len(ax.get_yticks()) == 3
    grid = ax.images[0].get_array()
    m_a, _ = model.encode(x_a[:1])
    first_decoded = grid[2 : 2 + 28, 2 + 30 : 2 + 30 + 28]  # row 0, column 1: the code of x_a
    assert np.allclose(first_decoded[0, 0], (m_a[0, 0].item() / 10 + 0.5), atol=1e-4)
    with pytest.raises(ValueError, match="labels"):
        plots.plot_interpolation(SSVAE(z_dim=2, hidden=8), x_a, x_b)


def test_plot_traversal_rows_are_dimensions(tmp_path):
    model = PixelDecoder(z_dim=2, hidden=8)
    fig = plots.plot_traversal(model, dims=[1], values=[-4.0, 0.0, 4.0])
    grid = fig.axes[0].images[0].get_array()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["$z_{1}$"]
    # z = (0, v): pixels of dimension 0 stay at 0.5, those of dimension 1 show v / 10 + 0.5.
    assert np.allclose(grid[2, 2 + 30 * 2], 0.5, atol=1e-4)
    assert np.allclose(grid[2 + 27, 2 + 30 * 2 + 27], 0.9, atol=1e-4)
    fig.savefig(tmp_path / "t.svg")
    assert len(plots.plot_traversal(VAE(z_dim=3, hidden=8), torch.rand(784)).axes[0].get_yticks()) == 3


def test_plot_kl_per_dimension_draws_the_values(tmp_path):
    kl = torch.tensor([0.1, 2.0, 0.5])
    fig = plots.plot_kl_per_dimension(kl)
    assert [p.get_height() for p in fig.axes[0].patches] == pytest.approx([0.1, 2.0, 0.5])
    fig = plots.plot_kl_per_dimension({"a": kl, "b": 2 * kl}, activity={"a": kl, "b": kl}, sort=True)
    assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"
    assert [p.get_height() for p in fig.axes[0].patches[:3]] == pytest.approx([2.0, 0.5, 0.1])
    fig.savefig(tmp_path / "kl.svg")
