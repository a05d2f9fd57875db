"""Figures and small analyses for the mixture prior of the GMVAE (chapter 2).

Like :mod:`vaelab.plots`, every plotting function returns a ``matplotlib.figure.Figure`` built
without ``pyplot`` (nothing is shown, any backend works; in Jupyter the figure displays as the
cell's value), and nothing here changes torch's global random state: randomness comes from a
``torch.Generator`` passed in.

Shapes use the course alphabet: N images, B batch, D data, Z latent, K components, S samples.

* :func:`responsibilities`: ``p(k | z)`` of the mixture components for the encoder means of images.
* :func:`component_usage`: how much of the data each component explains, and how many matter.
* :func:`plot_component_means`: the decoded component means.
* :func:`plot_latent_mixture`: encoder means in the plane of their two principal directions, with
  the component means projected on the same plane.
* :func:`plot_component_usage`: the sorted usage of the components and the confidence of the
  assignments.
* :func:`plot_component_samples`: samples drawn from chosen components (conditional generation).
* :func:`plot_estimator_spread`: standard deviation of a Monte Carlo estimate against the number of
  samples, on log-log axes, with the ``1/sqrt(S)`` line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .chapters import load
from .plots import _colormap, _device, _EvalMode, image_grid, tight_layout

__all__ = [
    "responsibilities",
    "component_usage",
    "plot_component_means",
    "plot_latent_mixture",
    "plot_component_usage",
    "plot_component_samples",
    "plot_estimator_spread",
]


def _encoder_means(model, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """``(N, Z)`` encoder means of ``x`` (eval mode, no gradients)."""
    device = _device(model)
    x = torch.as_tensor(x, dtype=torch.float32)
    with _EvalMode(model):
        return torch.cat([model.encode(x[i : i + batch_size].to(device))[0] for i in range(0, len(x), batch_size)])


def responsibilities(model, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """``(N, K)`` posterior probabilities ``p(k | z)`` of the mixture components at the encoder means.

    With uniform weights, ``p(k | z) = N(z; m_k, v_k) / sum_j N(z; m_j, v_j)``: a softmax of the
    components' log-densities, computed stably.

    Args:
        model: a GMVAE (``encode`` and ``prior() -> (m, v)`` of shape ``(1, K, Z)``).
        x: ``(N, D)`` images in [0, 1].
    """
    z = _encoder_means(model, x, batch_size)
    with _EvalMode(model):
        m, v = model.prior()
        log_components = load("01_vae", "log_normal")(z.unsqueeze(1), m, v)  # (N, K)
    return torch.softmax(log_components, dim=-1).cpu()


def component_usage(model, x: torch.Tensor, threshold: float = 0.01) -> dict:
    """How the data use the K components of the prior.

    Args:
        model: a GMVAE.
        x: ``(N, D)`` images.
        threshold: a component is *used* when its share of the data, the mean responsibility
            ``mean_n p(k | z_n)``, is above ``threshold / K`` (a hundredth of a uniform share by
            default).

    Returns:
        A dict with ``share`` (``(K,)``, sums to 1), ``used`` (components above the threshold),
        ``winners`` (components that are the most responsible one for at least one image),
        ``perplexity`` (``exp`` of the entropy of ``share``: the number of equally used components
        with the same entropy) and ``confidence`` (``(N,)``, the largest responsibility of each image).
    """
    r = responsibilities(model, x).double()
    k = r.shape[1]
    share = r.mean(0)
    entropy = -(share * torch.log(share.clamp_min(1e-300))).sum()
    return {
        "share": share,
        "used": int((share > threshold / k).sum()),
        "winners": int(r.argmax(1).unique().numel()),
        "perplexity": float(entropy.exp()),
        "confidence": r.max(1).values,
        "k": k,
    }


def _decoded_means(model, z: torch.Tensor) -> torch.Tensor:
    with _EvalMode(model):
        return torch.sigmoid(model.decode(z))


def plot_component_means(
    model,
    components: Sequence[int] | torch.Tensor | None = None,
    nrow: int = 20,
    title: str | None = "Decoded component means",
) -> Figure:
    """The images ``sigmoid(decode(m_k))`` of the component means ``m_k``.

    Args:
        model: a GMVAE.
        components: indices of the components to show, in that order (default: all K).
        nrow: images per row.
    """
    m, _ = model.prior()
    m = m[0].detach()
    if components is not None:
        m = m[torch.as_tensor(components, dtype=torch.long, device=m.device)]
    return image_grid(_decoded_means(model, m), nrow=nrow, title=title)


def _pca(points: torch.Tensor):
    centre = points.mean(0, keepdim=True)
    _, s, vh = torch.linalg.svd(points - centre, full_matrices=False)
    explained = float((s[:2] ** 2).sum() / (s**2).sum())
    return centre, vh[:2].T, explained


def plot_latent_mixture(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    max_points: int = 2000,
    share: torch.Tensor | None = None,
    title: str | None = None,
) -> Figure:
    """Encoder means of ``x`` coloured by digit, and the K component means, in one plane.

    The plane is spanned by the two principal directions of the encoder means (PCA); the component
    means are projected on the same axes. The components are black crosses whose size grows with
    their share of the data (``share``, e.g. ``component_usage(...)["share"]``; equal sizes when
    None).

    Args:
        model: a GMVAE.
        x: ``(N, D)`` images; y: ``(N,)`` digit labels (only for the colours).
    """
    x = torch.as_tensor(x, dtype=torch.float32)[:max_points]
    labels = torch.as_tensor(y)[:max_points].long().numpy()
    z = _encoder_means(model, x).double().cpu()
    m = model.prior()[0][0].detach().double().cpu()
    if z.shape[1] > 2:
        centre, axes, explained = _pca(z)
        points, comps = ((z - centre) @ axes).numpy(), ((m - centre) @ axes).numpy()
        xlabel, ylabel = "PC 1", "PC 2"
        default = f"Encoder means and component means (PCA of Z={z.shape[1]}, {100 * explained:.0f}% var.)"
    else:
        pad = (lambda t: torch.cat([t, torch.zeros_like(t)], 1)) if z.shape[1] == 1 else (lambda t: t)
        points, comps = pad(z).numpy(), pad(m).numpy()
        xlabel, ylabel, default = "z1", "z2", "Encoder means and component means"
    fig = Figure(figsize=(6.0, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    cmap = _colormap("tab10")
    for i, label in enumerate(np.unique(labels)):
        keep = labels == label
        ax.scatter(points[keep, 0], points[keep, 1], s=5, alpha=0.5, color=cmap(i % 10), label=str(label))
    if share is None:
        sizes = np.full(len(comps), 12.0)
    else:
        s = torch.as_tensor(share, dtype=torch.float64).cpu().numpy()
        sizes = 2.0 + 40.0 * s / max(s.max(), 1e-12)
    ax.scatter(comps[:, 0], comps[:, 1], s=sizes, marker="x", color="black", linewidths=0.8, alpha=0.8)
    ax.scatter([], [], s=20.0, marker="x", color="black", linewidths=0.8, label="$m_k$")  # the legend's marker
    ax.legend(title="digit", markerscale=2.0, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else default, fontsize="medium")
    tight_layout(fig)
    return fig


def plot_component_usage(usage: dict, title: str | None = None) -> Figure:
    """Two panels from :func:`component_usage`: the components' shares of the data, sorted, on a
    log scale (with the uniform share ``1/K`` and the threshold), and the histogram of each
    image's largest responsibility."""
    share = torch.as_tensor(usage["share"]).double().sort(descending=True).values.numpy()
    k = usage["k"]
    fig = Figure(figsize=(10.0, 3.4))
    left, right = fig.subplots(1, 2)
    left.semilogy(np.arange(1, k + 1), np.maximum(share, 1e-12), lw=1.5)
    left.axhline(1.0 / k, color="grey", ls="--", lw=1, label="uniform share 1/K")
    left.axhline(0.01 / k, color="grey", ls=":", lw=1, label="threshold 0.01/K")
    left.set_xlabel("component, by share (rank)")
    left.set_ylabel("share of the data")
    left.set_title(f"{usage['used']} of {k} components used, perplexity {usage['perplexity']:.0f}", fontsize="medium")
    left.legend(fontsize="small")
    left.grid(alpha=0.3)
    right.hist(torch.as_tensor(usage["confidence"]).numpy(), bins=20, range=(0, 1), color="tab:blue", alpha=0.8)
    right.set_xlabel("largest responsibility max_k p(k | z)")
    right.set_ylabel("images")
    right.set_title("How sharply each image is assigned", fontsize="medium")
    right.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    tight_layout(fig)
    return fig


def plot_component_samples(
    model,
    components: Sequence[int] | torch.Tensor,
    n: int = 10,
    generator: torch.Generator | None = None,
    title: str | None = "Samples from single components (one row each)",
) -> Figure:
    """Conditional generation: ``n`` decoded samples ``z ~ N(m_k, v_k)`` for each component ``k``.

    Row ``i`` shows component ``components[i]``: what one mode of the prior generates.
    """
    device = _device(model)
    components = torch.as_tensor(components, dtype=torch.long, device=device)
    which = components.repeat_interleave(n)
    with _EvalMode(model):
        z = model.sample_z(len(which), generator=generator, component=which)
        images = torch.sigmoid(model.decode(z))
    return image_grid(images, nrow=n, title=title)


def plot_estimator_spread(
    sample_counts: Sequence[int], spreads: dict, ylabel: str = "standard deviation (nats)", title: str | None = None
) -> Figure:
    """Standard deviation of Monte Carlo estimates against the number of samples ``S``, log-log.

    Args:
        sample_counts: the values of ``S``.
        spreads: ``{label: [std for each S]}``; a dashed ``1/sqrt(S)`` line is drawn through the
            first point of each series.
    """
    s = np.asarray(sample_counts, dtype=float)
    fig = Figure(figsize=(5.2, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    for i, (label, values) in enumerate(spreads.items()):
        values = np.asarray(values, dtype=float)
        color = _colormap("tab10")(i % 10)
        ax.loglog(s, values, "o-", color=color, label=label)
        ax.loglog(s, values[0] / np.sqrt(s / s[0]), "--", color=color, alpha=0.5, lw=1)
    ax.set_xlabel("samples per image S")
    ax.set_ylabel(ylabel)
    ax.set_xticks(s, [str(int(v)) for v in s])
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small", title="dashed: 1/√S", title_fontsize="small")
    if title:
        ax.set_title(title, fontsize="medium")
    tight_layout(fig)
    return fig
