"""Figures for the chapters: image grids, samples, reconstructions, loss curves, latent spaces.

Every function returns a ``matplotlib.figure.Figure`` built without ``pyplot``: nothing is shown,
no global figure list grows, and it works with any backend (Agg included). In Jupyter the returned
figure displays as the cell's value; elsewhere save it with ``fig.savefig("file.png")``. While the
autograder grades, figures are built but neither laid out nor rendered (:func:`vaelab.figures_rendered`).

Shapes use the course alphabet: N images, D data, Z latent, Y classes. Images may be given as
``(N, 784)`` gray digits, ``(N, 3072)`` colour images flattened channel-major (3, 32, 32), or
``(N, C, H, W)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from . import figures_rendered

__all__ = [
    "image_grid",
    "grid_array",
    "plot_samples",
    "plot_reconstructions",
    "plot_loss_curves",
    "plot_latent_2d",
    "plot_interpolation",
    "plot_traversal",
    "plot_kl_per_dimension",
]


def tight_layout(fig: Figure, **kwargs) -> Figure:
    """``fig.tight_layout(**kwargs)`` when figures are drawn (:func:`vaelab.figures_rendered`).

    A layout only places the text of a figure that will be drawn; computing it draws every label
    once. While the autograder grades, no figure is drawn and this is skipped.
    """
    if figures_rendered():
        fig.tight_layout(**kwargs)
    return fig


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def _as_nchw(images, image_shape: Sequence[int] | None = None) -> np.ndarray:
    """Images as a float ``(N, C, H, W)`` numpy array, guessing the shape of flat rows.

    A flat ``D`` is gray ``(1, s, s)`` when ``D = s^2`` and colour ``(3, s, s)`` when ``D = 3 s^2``.
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().float().cpu().numpy()
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 1:
        images = images[None]
    if image_shape is not None:
        return images.reshape(len(images), *image_shape)
    if images.ndim == 4:
        return images
    if images.ndim == 3:  # (N, H, W) gray
        return images[:, None]
    if images.ndim != 2:
        raise ValueError(f"images must be (N, D), (N, H, W) or (N, C, H, W), got shape {images.shape}")
    d = images.shape[1]
    for channels in (1, 3):
        side = math.isqrt(d // channels)
        if channels * side * side == d:
            return images.reshape(len(images), channels, side, side)
    raise ValueError(f"cannot guess the image shape of {d} values; pass image_shape=(C, H, W)")


def grid_array(images, nrow: int = 10, pad: int = 2, pad_value: float = 1.0, image_shape=None) -> np.ndarray:
    """Tile images into one array: ``(rows * (H + pad) + pad, nrow * (W + pad) + pad[, 3])``.

    Args:
        images: ``(N, D)``, ``(N, H, W)`` or ``(N, C, H, W)`` with values in [0, 1].
        nrow: images per row.
        pad: pixels between images, filled with ``pad_value``.

    Returns:
        A 2-D array for gray images, ``(..., 3)`` for colour ones, clipped to [0, 1].
    """
    x = np.clip(_as_nchw(images, image_shape), 0.0, 1.0)
    n, c, h, w = x.shape
    nrow = max(1, min(nrow, n))
    rows = math.ceil(n / nrow)
    grid = np.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), pad_value, dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top : top + h, left : left + w] = x[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def image_grid(
    images,
    nrow: int = 10,
    title: str | None = None,
    image_shape: Sequence[int] | None = None,
    pad: int = 2,
    scale: float = 0.6,
    ax=None,
) -> Figure:
    """A figure of images in a grid, ``nrow`` per row.

    Args:
        images: ``(N, 784)`` gray, ``(N, 3072)`` colour (channel-major), ``(N, H, W)`` or
            ``(N, C, H, W)``; tensors or arrays with values in [0, 1].
        nrow: images per row.
        title: optional title.
        image_shape: ``(C, H, W)`` when it cannot be guessed from ``D``.
        pad: pixels between images.
        scale: inches per image.
        ax: draw into this matplotlib axes instead of a new figure.

    Returns:
        The figure (``ax.figure`` when ``ax`` is given).
    """
    grid = grid_array(images, nrow=nrow, pad=pad, image_shape=image_shape)
    created = ax is None
    if created:
        n_images = len(_as_nchw(images, image_shape))
        rows, cols = math.ceil(n_images / max(1, min(nrow, n_images))), max(1, min(nrow, n_images))
        fig = Figure(figsize=(max(2.0, cols * scale), max(1.0, rows * scale) + (0.4 if title else 0.0)))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if created:
        tight_layout(fig, pad=0.3)
    return fig


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def _is_gaussian(model) -> bool:
    """Gaussian likelihood (FSVAE: the decoder returns means) rather than Bernoulli logits."""
    return hasattr(model, "x_var")


def _labels_for(model, n: int, device) -> torch.Tensor | None:
    """One-hot labels cycling through the classes for conditional models, else None."""
    y_dim = getattr(model, "y_dim", None)
    if not y_dim:
        return None
    return torch.nn.functional.one_hot(torch.arange(n, device=device) % y_dim, y_dim).float()


def _decode_mean(model, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``p(x | z[, y])``: ``sigmoid(logits)`` for Bernoulli decoders, the clipped mean otherwise."""
    out = model.decode(z) if y is None else model.decode(z, y)
    return out.clamp(0, 1) if _is_gaussian(model) else torch.sigmoid(out)


def _image_shape(model):
    shape = getattr(model, "image_shape", None)
    return tuple(shape) if shape is not None else None


def _device(model) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


class _EvalMode:
    """``with _EvalMode(model):`` eval mode and no gradients, the previous mode restored after."""

    def __init__(self, model):
        self.model, self.was_training = model, model.training
        self.no_grad = torch.no_grad()

    def __enter__(self):
        self.model.eval()
        self.no_grad.__enter__()

    def __exit__(self, *exc):
        self.no_grad.__exit__(*exc)
        self.model.train(self.was_training)


def plot_samples(
    model, n: int = 100, generator: torch.Generator | None = None, nrow: int = 10, title: str | None = "Samples"
) -> Figure:
    """``n`` images decoded from prior samples ``z ~ p(z)``: the means of ``p(x | z)``.

    Shows ``sigmoid(logits)`` for Bernoulli decoders (not binary draws, which look noisy) and the
    clipped mean for the FSVAE. Conditional models get labels ``0, 1, ..., Y-1, 0, ...`` in
    reading order, so with ``nrow = Y`` each column is one class.

    Args:
        model: a vaelab model (``sample_z`` and ``decode``).
        n: number of samples.
        generator: a ``torch.Generator`` for repeatable samples (a CPU generator works for a model
            on a GPU too: the sampling then runs on a CPU copy); None uses the global generator.
    """
    if generator is not None and generator.device.type != _device(model).type:
        # e.g. a CPU generator and a model trained on a GPU: sample with a CPU copy, so that the
        # same seed gives the same picture on every device.
        model = copy.deepcopy(model).to(generator.device)
    device = _device(model)
    with _EvalMode(model):
        z = model.sample_z(n, generator=generator)
        x = _decode_mean(model, z, _labels_for(model, n, device))
    return image_grid(x, nrow=nrow, title=title, image_shape=_image_shape(model))


def plot_reconstructions(
    model,
    x: torch.Tensor,
    n: int = 10,
    y: torch.Tensor | None = None,
    title: str | None = "Inputs (top) and reconstructions (bottom)",
) -> Figure:
    """The first ``n`` inputs in the top row, their reconstructions below.

    The reconstruction decodes the posterior mean: ``x -> m = E_q[z | x] -> mean of p(x | m)``,
    deterministic, so the figure does not change between calls.

    Args:
        model: a vaelab model.
        x: ``(N, D)`` images in [0, 1] (``N >= n``).
        y: ``(N,)`` labels or ``(N, Y)`` one-hot, for conditional models; the SSVAE falls back to
            its classifier's guess when None.
    """
    device = _device(model)
    x = torch.as_tensor(x, dtype=torch.float32)[:n].to(device)
    with _EvalMode(model):
        if getattr(model, "y_dim", None):
            if y is None:
                if not hasattr(model, "classify"):
                    raise ValueError("this model is conditional: pass the labels y")
                y = model.classify(x).argmax(-1)
            y = torch.as_tensor(y)[:n].to(device)
            if y.ndim == 1:
                y = torch.nn.functional.one_hot(y.long(), model.y_dim).float()
            m, _ = model.encode(x, y)
        else:
            y = None
            m, _ = model.encode(x)
        recon = _decode_mean(model, m, y)
    both = torch.cat([x, recon.reshape(x.shape)])
    return image_grid(both, nrow=len(x), title=title, image_shape=_image_shape(model))


def _named_histories(histories) -> list[tuple[str, object]]:
    if hasattr(histories, "records"):
        return [("", histories)]
    if isinstance(histories, dict):
        return list(histories.items())
    return [(str(label), h) for label, h in histories]


def plot_loss_curves(
    histories, keys: Iterable[str] | None = None, logy: bool = False, title: str | None = None
) -> Figure:
    """Training curves: one panel per quantity, one line per history.

    Args:
        histories: a :class:`vaelab.train.History`, a list of ``(label, history)`` pairs, or a
            dict ``{label: history}``.
        keys: quantities to plot; default: ``loss`` and every metric of the first history
            (a metric identical to the loss, like the VAE's ``nelbo``, is skipped).
        logy: logarithmic y axes.
    """
    named = _named_histories(histories)
    if not named:
        raise ValueError("no history to plot")
    if keys is None:
        first = named[0][1]
        keys = [k for k in first.keys() if k not in ("step", "time")]
        keys = [k for k in keys if k == "loss" or first[k] != first["loss"]] if "loss" in keys else keys
    keys = list(keys)
    fig = Figure(figsize=(3.6 * len(keys), 3.0))
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, key in zip(axes, keys):
        for label, history in named:
            if key in history.keys():
                ax.plot(history["step"], history[key], label=label or None)
        ax.set_xlabel("step")
        ax.set_title(key)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if any(label for label, _ in named):
            ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    tight_layout(fig)
    return fig


def plot_latent_2d(model, x: torch.Tensor, y: torch.Tensor, max_points: int = 2000, title: str | None = None) -> Figure:
    """Encoder means of ``x`` in the plane, coloured by digit.

    With ``Z > 2`` the means are projected on their first two principal components (PCA through
    ``torch.linalg.svd`` of the centred means); ``Z = 1`` is drawn against zero.

    Args:
        model: a vaelab model (conditional encoders get the one-hot ``y``).
        x: ``(N, D)`` images in [0, 1].
        y: ``(N,)`` integer labels.
        max_points: plot at most the first ``max_points`` images.
    """
    device = _device(model)
    x = torch.as_tensor(x, dtype=torch.float32)[:max_points].to(device)
    y = torch.as_tensor(y)[:max_points].long()
    with _EvalMode(model):
        if getattr(model, "y_dim", None):
            m, _ = model.encode(x, torch.nn.functional.one_hot(y.to(device), model.y_dim).float())
        else:
            m, _ = model.encode(x)
    m = m.double().cpu()
    z_dim = m.shape[1]
    if z_dim > 2:
        centred = m - m.mean(0, keepdim=True)
        _, s, vh = torch.linalg.svd(centred, full_matrices=False)
        points = centred @ vh[:2].T
        explained = (s[:2] ** 2).sum() / (s**2).sum()
        xlabel, ylabel = "PC 1", "PC 2"
        default_title = f"Latent means (PCA of Z={z_dim}, {100 * explained:.0f}% var.)"
    elif z_dim == 2:
        points, xlabel, ylabel, default_title = m, "z1", "z2", "Latent means"
    else:
        points = torch.cat([m, torch.zeros_like(m)], 1)
        xlabel, ylabel, default_title = "z1", "", "Latent means"
    points = points.numpy()
    labels = y.numpy()

    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    classes = np.unique(labels)
    cmap = _colormap("tab10" if len(classes) <= 10 else "viridis")
    for i, label in enumerate(classes):
        keep = labels == label
        color = cmap(i % 10) if len(classes) <= 10 else cmap(i / max(1, len(classes) - 1))
        ax.scatter(points[keep, 0], points[keep, 1], s=6, alpha=0.7, color=color, label=str(label))
    ax.legend(title="digit", markerscale=2.5, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else default_title)
    tight_layout(fig)
    return fig


def _colormap(name: str):
    import matplotlib

    return matplotlib.colormaps[name]


# The latent space: interpolation, traversal, KL per dimension (vaelab.latent).


def _unconditional(model, what: str) -> None:
    if getattr(model, "y_dim", None):
        raise ValueError(f"{what} draws unconditional models (VAE, GMVAE); this one needs labels")


def _rows(x, device) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float32)
    return (x[None] if x.ndim == 1 else x).to(device)


def _labelled_grid(ax, images, nrow: int, row_labels, col_labels, image_shape, pad: int = 2) -> None:
    """Draw ``images`` in rows of ``nrow`` on ``ax``, with a label left of each row and above each column."""
    grid = grid_array(images, nrow=nrow, pad=pad, image_shape=image_shape)
    h, w = _as_nchw(images[:1], image_shape).shape[2:]
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([pad + i * (w + pad) + w / 2 for i in range(len(col_labels))], col_labels, fontsize="small")
    ax.set_yticks([pad + i * (h + pad) + h / 2 for i in range(len(row_labels))], row_labels, fontsize="small")
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_interpolation(model, x_a, x_b, steps: int = 10, mode: str = "linear", title: str | None = None) -> Figure:
    """Decoded paths between the codes of pairs of images, one row per pair.

    Each row shows ``x_a``, the means of ``p(x | z_t)`` for the ``T = steps`` codes of
    :func:`vaelab.latent.interpolate` from ``E_q[z | x_a]`` to ``E_q[z | x_b]`` (so the second and
    the second-to-last images are the reconstructions), then ``x_b``.

    Args:
        model: an unconditional vaelab model (``encode``, ``decode``).
        x_a, x_b: ``(P, D)`` (or ``(D,)``) images in [0, 1]: ``P`` pairs.
        steps: ``T >= 2`` codes per path.
        mode: ``"linear"`` or ``"spherical"`` (see :func:`vaelab.latent.interpolate`).
    """
    from .latent import interpolate

    _unconditional(model, "plot_interpolation")
    device = _device(model)
    x_a, x_b = _rows(x_a, device), _rows(x_b, device)
    if x_a.shape != x_b.shape:
        raise ValueError(f"x_a and x_b must have the same shape, got {tuple(x_a.shape)} and {tuple(x_b.shape)}")
    with _EvalMode(model):
        m_a, _ = model.encode(x_a)
        m_b, _ = model.encode(x_b)
        paths = torch.stack([interpolate(a, b, steps, mode) for a, b in zip(m_a, m_b)])  # (P, T, Z)
        decoded = _decode_mean(model, paths.reshape(-1, paths.shape[-1]), None).reshape(len(x_a), steps, -1)
    rows = torch.cat([x_a[:, None], decoded.reshape(len(x_a), steps, -1), x_b[:, None]], 1).reshape(-1, x_a.shape[1])
    cols = ["$x_a$"] + [f"{t:.2g}" for t in np.linspace(0, 1, steps)] + ["$x_b$"]
    fig = Figure(figsize=(0.6 * (steps + 2) + 0.4, 0.6 * len(x_a) + 0.7))
    ax = fig.add_subplot(1, 1, 1)
    _labelled_grid(ax, rows.cpu(), steps + 2, [""] * len(x_a), cols, _image_shape(model))
    ax.set_title(
        title if title is not None else f"{mode.capitalize()} interpolation between encoder means, t =",
        fontsize="medium",
    )
    tight_layout(fig, pad=0.3)
    return fig


def plot_traversal(model, x=None, dims: Sequence[int] | None = None, values=None, title: str | None = None) -> Figure:
    """One row per latent dimension ``j``: the decoded means of a code whose ``z_j`` takes each value.

    The other dimensions stay at the base code: the encoder mean ``E_q[z | x]`` of one image, or
    the prior mean ``0`` when ``x`` is None (:func:`vaelab.latent.traverse`). A row that does not
    change is a dimension the decoder ignores, typically a collapsed one.

    Args:
        model: an unconditional vaelab model with ``z_dim``.
        x: one image ``(D,)`` or ``(1, D)``, or None.
        dims: the dimensions to traverse (rows); default all ``Z``.
        values: ``T`` values for ``z_j``; default ``linspace(-3, 3, 9)`` (the prior's +-3 sigma).
    """
    from .latent import traverse

    _unconditional(model, "plot_traversal")
    device = _device(model)
    dims = list(range(model.z_dim)) if dims is None else [int(d) for d in dims]
    values = torch.linspace(-3.0, 3.0, 9) if values is None else torch.as_tensor(values, dtype=torch.float32)
    with _EvalMode(model):
        base = torch.zeros(model.z_dim, device=device) if x is None else model.encode(_rows(x, device)[:1])[0][0]
        codes = torch.cat([traverse(base, d, values.to(device)) for d in dims])  # (len(dims) * T, Z)
        images = _decode_mean(model, codes, None)
    fig = Figure(figsize=(0.6 * len(values) + 0.8, 0.6 * len(dims) + 0.7))
    ax = fig.add_subplot(1, 1, 1)
    _labelled_grid(
        ax,
        images.cpu(),
        len(values),
        [f"$z_{{{d}}}$" for d in dims],
        [f"{v:.3g}" for v in values.tolist()],
        _image_shape(model),
    )
    default = f"Traversal around {'the prior mean' if x is None else 'an encoder mean'}, $z_j$ ="
    ax.set_title(title if title is not None else default, fontsize="medium")
    tight_layout(fig, pad=0.3)
    return fig


def _named_vectors(values) -> list[tuple[str, np.ndarray]]:
    if isinstance(values, dict):
        return [(str(k), np.asarray(torch.as_tensor(v).double().cpu())) for k, v in values.items()]
    return [("", np.asarray(torch.as_tensor(values).double().cpu()))]


def plot_kl_per_dimension(
    kl, activity=None, threshold: float = 0.01, sort: bool = False, title: str | None = None
) -> Figure:
    """Bars of the KL of each latent dimension and, optionally, of its activity on a log scale.

    Args:
        kl: ``(Z,)`` nats per dimension (:func:`vaelab.latent.kl_per_dimension`), or a dict
            ``{label: (Z,)}`` to compare models side by side.
        activity: None, or ``(Z,)`` / a dict with the same labels: ``Var_x E_q[z_j | x]``
            (:func:`vaelab.latent.activity`), drawn in a second panel with the ``threshold`` line.
        threshold: the active-unit criterion drawn on the activity panel.
        sort: order each model's dimensions by decreasing KL (the x axis is then a rank).
    """
    named = _named_vectors(kl)
    acts = dict(_named_vectors(activity)) if activity is not None else None
    panels = 2 if acts is not None else 1
    z_dim = max(len(v) for _, v in named)
    fig = Figure(figsize=(min(14.0, 2.0 + 0.28 * z_dim * max(1, len(named) / 2)), 2.8 * panels + 0.3))
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    width = 0.8 / len(named)
    for i, (label, values) in enumerate(named):
        order = np.argsort(-values, kind="stable") if sort else np.arange(len(values))
        where = np.arange(len(values)) + (i - (len(named) - 1) / 2) * width
        total = values.sum()
        axes[0].bar(where, values[order], width, label=f"{label} (sum {total:.1f})" if label else None)
        if acts is not None:
            axes[1].bar(where, np.maximum(acts[label][order], 1e-8), width)
    axes[0].set_ylabel("KL (nats)")
    if any(label for label, _ in named):
        axes[0].legend(fontsize="small")
    axes[0].set_title(title if title is not None else "KL per latent dimension", fontsize="medium")
    if acts is not None:
        axes[1].set_yscale("log")
        axes[1].axhline(threshold, color="k", lw=0.8, ls="--")
        axes[1].set_ylabel("activity $\\mathrm{Var}_x\\,\\mu_j$")
    axes[-1].set_xlabel("dimension, by decreasing KL" if sort else "dimension $j$")
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    tight_layout(fig)
    return fig
