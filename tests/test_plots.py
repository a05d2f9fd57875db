"""Figures (vaelab.plots): they return Figures and save PNGs, without pyplot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vaelab.models import FSVAE, GMVAE, SSVAE, VAE  # noqa: E402
from vaelab.plots import (  # noqa: E402
    grid_array,
    image_grid,
    plot_latent_2d,
    plot_loss_curves,
    plot_reconstructions,
    plot_samples,
)
from vaelab.train import History  # noqa: E402


def saved(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000
    return path


def history(offset=0.0):
    records = [
        {
            "step": s,
            "loss": 200 - s / 10 + offset,
            "nelbo": 200 - s / 10 + offset,
            "kl": 5 + s / 100,
            "rec": 195 - s / 10,
            "time": s / 100,
        }
        for s in (10, 20, 30)
    ]
    return History(records=records, steps=30, wall_time=0.3)


@pytest.mark.parametrize("shape", [(12, 784), (12, 3072), (12, 3, 32, 32), (12, 28, 28)])
def test_image_grid_shapes(tmp_path, shape):
    images = torch.rand(shape)
    saved(image_grid(images, nrow=5, title="grid"), tmp_path, "grid")
    grid = grid_array(images, nrow=5, pad=2)
    side = 28 if shape[-1] in (784, 28) else 32
    assert grid.shape[:2] == (3 * (side + 2) + 2, 5 * (side + 2) + 2)
    assert grid.ndim == (3 if shape[1] in (3072, 3) else 2)


def test_image_grid_places_images_and_rejects_odd_sizes():
    images = np.zeros((2, 1, 2, 2))
    images[1] = 0.5
    grid = grid_array(images, nrow=2, pad=1)
    assert grid.shape == (4, 7) and grid[1, 1] == 0.0 and grid[1, 4] == 0.5 and grid[0, 0] == 1.0
    with pytest.raises(ValueError, match="image_shape"):
        grid_array(torch.rand(2, 10))


@pytest.mark.parametrize(
    "model",
    [VAE(z_dim=2, hidden=16), GMVAE(z_dim=2, k=3, hidden=16), SSVAE(z_dim=3, hidden=16), FSVAE(z_dim=3, hidden=16)],
    ids=["vae", "gmvae", "ssvae", "fsvae"],
)
def test_model_figures(tmp_path, model):
    model.train()
    state = torch.get_rng_state()
    first = plot_samples(model, n=20, generator=torch.Generator().manual_seed(0))
    again = plot_samples(model, n=20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.get_rng_state()), "plot_samples with a generator used the global RNG"
    assert np.array_equal(first.axes[0].images[0].get_array(), again.axes[0].images[0].get_array())
    saved(first, tmp_path, "samples")
    x = torch.rand(30, model.x_dim)
    y = torch.arange(30) % 10
    kwargs = {"y": y} if isinstance(model, FSVAE) else {}
    fig = plot_reconstructions(model, x, n=6, **kwargs)
    saved(fig, tmp_path, "reconstructions")
    rows = fig.axes[0].images[0].get_array().shape[0]
    side = 32 if isinstance(model, FSVAE) else 28
    assert rows == 2 * (side + 2) + 2  # inputs above reconstructions
    saved(plot_latent_2d(model, x, y), tmp_path, "latent")
    assert model.training, "a plot left the model in eval mode"


def test_latent_projection(tmp_path):
    x, y = torch.rand(50, 784), torch.arange(50) % 10
    for z_dim in (1, 5):
        fig = plot_latent_2d(VAE(z_dim=z_dim, hidden=16), x, y)
        saved(fig, tmp_path, f"latent{z_dim}")
        assert fig.axes[0].get_legend() is not None
    assert "PCA" in plot_latent_2d(VAE(z_dim=5, hidden=16), x, y).axes[0].get_title()


def test_loss_curves(tmp_path):
    fig = plot_loss_curves(history())
    saved(fig, tmp_path, "one")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "kl", "rec"]  # nelbo == loss is skipped
    fig = plot_loss_curves([("a", history()), ("b", history(5.0))], keys=["loss"])
    saved(fig, tmp_path, "two")
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_legend() is not None
    saved(plot_loss_curves({"a": history()}, logy=True), tmp_path, "dict")
