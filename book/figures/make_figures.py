"""Draws every figure of the book's theory pages into committed SVG files in this folder.

    .venv/bin/python book/figures/make_figures.py            # regenerate every figure here
    .venv/bin/python book/figures/make_figures.py --only elbo_gap
    .venv/bin/python book/figures/make_figures.py --check    # regenerate into a temporary folder and
                                                             # compare the file names with this folder

Only matplotlib draws (no graphviz binary). The output is deterministic: fixed seeds, one thread,
a fixed SVG hash salt and no date in the metadata, so regenerating on the same machine gives the
same bytes. Every figure has a white background, readable in the website's light and dark themes,
and no words in it: its text is mathematics, and the pages give the captions in both languages.

The two computed figures print the numbers that the pages quote:
- ``elbo_gap``: a 1-D model whose evidence and posterior are computed by quadrature;
- ``aggregate_posterior``: a VAE with a 2-D code trained on the embedded MNIST (about 20 s on one
  idle core; the whole script stays under two minutes on one core).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # loaded by path (tests/test_figures.py), not run as a script
    sys.path.insert(0, str(HERE))
from diagrams import fsvae_model, gmvae_model, iwae_model, ssvae_model, vae_model  # noqa: E402

INK, GREY, BLUE, ORANGE = "#1a1a1a", "#c8c8c8", "#1f5fa8", "#d9731a"
STYLE = {
    "svg.hashsalt": "vaelab-figures",  # fixed ids in the SVG: deterministic output
    "svg.fonttype": "path",  # glyphs as paths: the same rendering in every browser
    "font.size": 11,
    "mathtext.fontset": "cm",
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.spines.top": False,
    "axes.spines.right": False,
}


# ------------------------------------------------------------------------------------------------
# Chapter 1: the ELBO gap, on a 1-D model with an exact evidence
# ------------------------------------------------------------------------------------------------

#: The toy model: p(z) = N(0, 1), p(x | z) = N(x; z^2, S2), observed X_OBS. The decoder cannot
#: tell z from -z, so the posterior has two modes and no Gaussian q can match it.
X_OBS, S2 = 1.5, 0.25
GRID = np.linspace(-10.0, 10.0, 40001)  # quadrature nodes for z: the integrands vanish at both ends


def toy_log_joint(z: np.ndarray) -> np.ndarray:
    """log p(x, z) = log N(z; 0, 1) + log N(X_OBS; z^2, S2), elementwise in z."""
    return -0.5 * np.log(2 * np.pi) - 0.5 * z**2 - 0.5 * np.log(2 * np.pi * S2) - (X_OBS - z**2) ** 2 / (2 * S2)


def toy_log_evidence() -> float:
    """log p(x) = log of the integral of p(x, z) dz, by the rectangle rule on GRID (smooth, decaying)."""
    lj = toy_log_joint(GRID)
    dz = GRID[1] - GRID[0]
    return float(lj.max() + np.log(np.exp(lj - lj.max()).sum() * dz))


def toy_elbo(mu: np.ndarray, v: np.ndarray) -> np.ndarray:
    """ELBO of q = N(mu, v) in closed form, from the Gaussian moments E z^2 and E z^4.

    E_q log p(z) = -log(2 pi)/2 - (mu^2 + v)/2;  E_q log p(x|z) = -log(2 pi S2)/2 - E_q (x - z^2)^2 / (2 S2)
    with E (x - z^2)^2 = x^2 - 2 x E z^2 + E z^4,  E z^2 = mu^2 + v,  E z^4 = mu^4 + 6 mu^2 v + 3 v^2;
    the entropy of q is log(2 pi e v)/2.
    """
    ez2, ez4 = mu**2 + v, mu**4 + 6 * mu**2 * v + 3 * v**2
    e_log_prior = -0.5 * np.log(2 * np.pi) - 0.5 * ez2
    e_log_lik = -0.5 * np.log(2 * np.pi * S2) - (X_OBS**2 - 2 * X_OBS * ez2 + ez4) / (2 * S2)
    return e_log_prior + e_log_lik + 0.5 * np.log(2 * np.pi * np.e * v)


def toy_kl_to_posterior(mu: float, v: float, log_evidence: float) -> float:
    """KL(N(mu, v) || p(z | x)) by quadrature on GRID, with log p(z | x) = log p(x, z) - log p(x)."""
    log_q = -0.5 * np.log(2 * np.pi * v) - (GRID - mu) ** 2 / (2 * v)
    q = np.exp(log_q)
    return float(np.sum(q * (log_q - toy_log_joint(GRID) + log_evidence)) * (GRID[1] - GRID[0]))


def toy_best_variance(mu: float) -> float:
    """argmax over v of the ELBO for a fixed mean, by a bounded search over log v."""
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(
        lambda t: -toy_elbo(np.float64(mu), np.exp(t)), bounds=(-10.0, 3.0), method="bounded", options={"xatol": 1e-9}
    )
    return float(np.exp(result.x))


def elbo_gap_numbers() -> dict:
    """The sweep of the figure, with identity (1.6) checked: ELBO (closed form) + KL (quadrature) = log p(x)."""
    log_px = toy_log_evidence()
    mus = np.linspace(-1.9, 1.9, 191)
    vs = np.array([toy_best_variance(m) for m in mus])
    elbos = toy_elbo(mus, vs)
    kls = np.array([toy_kl_to_posterior(m, v, log_px) for m, v in zip(mus, vs)])
    assert np.allclose(elbos + kls, log_px, atol=1e-6), "ELBO + KL differs from log p(x): the quadrature is off"
    from scipy.optimize import minimize

    start = [mus[np.argmax(elbos)], np.log(vs[np.argmax(elbos)])]  # then refine both mean and variance
    fit = minimize(
        lambda p: -toy_elbo(p[0], np.exp(p[1])), start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12}
    )
    best = (float(fit.x[0]), float(np.exp(fit.x[1])), float(-fit.fun))
    post = np.exp(toy_log_joint(GRID) - log_px)
    dz = GRID[1] - GRID[0]
    moment_v = float(np.sum(post * GRID**2) * dz)  # the posterior's variance (its mean is 0 by symmetry)
    wide = (0.0, moment_v, float(toy_elbo(np.float64(0.0), np.float64(moment_v))))
    for mu, v, elbo in (best, wide):
        assert abs(elbo + toy_kl_to_posterior(mu, v, log_px) - log_px) < 1e-6, "identity (1.6) fails"
    return {"log_px": log_px, "mus": mus, "elbos": elbos, "best": best, "wide": wide, "post": post}


def elbo_gap():
    """Left: the posterior and two Gaussian q. Right: log p(x), the ELBO and the gap against q's mean."""
    n = elbo_gap_numbers()
    (mu_a, v_a, elbo_a), (mu_b, v_b, elbo_b) = n["best"], n["wide"]
    print(
        f"elbo_gap: log p(x) = {n['log_px']:.4f}; best Gaussian q_a = N({mu_a:.3f}, {v_a:.4f}): "
        f"ELBO {elbo_a:.4f}, gap {n['log_px'] - elbo_a:.4f} (log 2 = {math.log(2):.4f}); "
        f"q_b = N(0, {v_b:.4f}): ELBO {elbo_b:.4f}, gap {n['log_px'] - elbo_b:.4f}"
    )
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.0, 3.8), gridspec_kw={"width_ratios": [1, 1.15]})
    z = np.linspace(-3.2, 3.2, 641)  # a plotting grid, coarser than the quadrature's

    def gauss(m, v):
        return np.exp(-((z - m) ** 2) / (2 * v)) / np.sqrt(2 * np.pi * v)

    post = np.exp(toy_log_joint(z) - n["log_px"])
    left.fill_between(z, post, color=GREY, alpha=0.7, lw=0)
    left.plot(z, post, color=INK, lw=1.6, label=r"$p(z \mid x)$")
    left.plot(z, gauss(mu_a, v_a), color=BLUE, lw=1.8, label=r"$q_a$")
    left.plot(z, gauss(mu_b, v_b), color=ORANGE, lw=1.8, ls="--", label=r"$q_b$")
    left.set_xlabel(r"$z$")
    left.legend(frameon=False, fontsize=12)
    left.set_yticks([])
    left.set_title("(a)", loc="left")
    right.axhline(n["log_px"], color=INK, lw=1.6)
    right.plot(n["mus"], n["elbos"], color=BLUE, lw=1.8)
    right.fill_between(n["mus"], n["elbos"], n["log_px"], color=BLUE, alpha=0.15, lw=0)
    for mu, elbo, colour, name in ((mu_a, elbo_a, BLUE, r"$q_a$"), (mu_b, elbo_b, ORANGE, r"$q_b$")):
        right.annotate("", (mu, n["log_px"]), (mu, elbo), arrowprops={"arrowstyle": "<->", "color": colour, "lw": 1.4})
        right.plot([mu], [elbo], "o", color=colour, ms=6, zorder=3)
        right.text(mu + 0.08, elbo - 0.12, name, color=colour, fontsize=13, va="top")
    right.text(-1.85, n["log_px"] + 0.1, r"$\log p(x)$", fontsize=13, va="bottom")
    right.text(
        0.5,
        n["log_px"] - 0.35,
        r"$D_{\mathrm{KL}}(q \,\|\, p(z \mid x))$",
        fontsize=12,
        color=BLUE,
        va="top",
        ha="center",
    )
    at = int(np.searchsorted(n["mus"], 0.35))  # under the curve, clear of the arrows
    right.text(n["mus"][at], n["elbos"][at] - 0.3, r"$\mathcal{L}(q)$", fontsize=13, color=BLUE, va="top", ha="center")
    right.set_xlabel(r"$\mu$")
    right.set_ylabel("nats")
    right.set_ylim(elbo_b - 1.2, n["log_px"] + 0.8)
    right.set_xlim(n["mus"][0], n["mus"][-1])
    right.set_title("(b)", loc="left")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# Chapter 2: the aggregate posterior of a VAE with a 2-D code, against its prior
# ------------------------------------------------------------------------------------------------

AGG_STEPS, AGG_SEED, AGG_LIM = 2500, 0, 3.5


def train_2d_vae():
    """A VAE with Z = 2 (the course's 300-unit networks), trained on the 4,000 embedded training digits.

    Adam (learning rate 1e-3), batches of 100, dynamic binarisation, AGG_STEPS steps, seeded; the loss
    is the NELBO (1.20) written out here, so that the script depends only on the models and the data.
    Returns ``(model, x, y)``: the trained model (eval mode), ``x: (N, 784)`` the training digits
    under a fixed binarisation, ``y: (N,)`` their labels.
    """
    import torch
    import torch.nn.functional as F

    from vaelab.data import fixed_binarization, load_dataset
    from vaelab.models import VAE

    torch.manual_seed(AGG_SEED)  # the networks' initialisation (a script, not a library function)
    generator = torch.Generator().manual_seed(AGG_SEED)
    x, y = load_dataset("mnist-embedded", "train")
    model = VAE(z_dim=2)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(AGG_STEPS):
        batch = torch.bernoulli(x[torch.randint(0, len(x), (100,), generator=generator)], generator=generator)
        m, v = model.encode(batch)
        z = m + v.sqrt() * torch.randn(m.shape, generator=generator)
        rec = F.binary_cross_entropy_with_logits(model.decode(z), batch, reduction="none").sum(-1)
        nelbo = (rec + kl_to_standard_normal(m, v)).mean()
        optimiser.zero_grad()
        nelbo.backward()
        optimiser.step()
    return model.eval(), fixed_binarization(x, seed=AGG_SEED), y


def kl_to_standard_normal(m, v):
    """KL(N(m, diag v) || N(0, I)) = (1/2) sum (v + m^2 - 1 - log v): ``(B, Z) -> (B,)``."""
    return 0.5 * (v + m**2 - 1 - v.log()).sum(-1)


def log_normal(z, m, v):
    """log N(z; m, diag v), summed over the last dimension (broadcasting): ``(..., Z) -> (...)``."""
    return -0.5 * (math.log(2 * math.pi) + v.log() + (z - m) ** 2 / v).sum(-1)


def log_aggregate_posterior(z, m, v, chunk: int = 1000):
    """log q(z) = log (1/N) sum_n N(z; m_n, diag v_n), the encoder's mixture over the N training images.

    Args:
        z: ``(M, Z)`` points; m, v: ``(N, Z)`` the encoder's means and variances.
    Returns:
        ``(M,)``.
    """
    import torch

    parts = [torch.logsumexp(log_normal(c[:, None, :], m[None], v[None]), dim=1) for c in z.split(chunk)]
    return torch.cat(parts) - math.log(len(m))


def aggregate_numbers(model, x) -> dict:
    """The three terms of the decomposition (2.17) and the holes, for the training digits ``x: (N, 784)``.

    E_x KL(q(z|x) || p(z)) is exact (analytic per image); KL(q(z) || p(z)) is a Monte Carlo average of
    log q(z) - log p(z) over 5 codes drawn from q(z|x_n) per image; I_q(x; z) is their difference.
    """
    import torch

    generator = torch.Generator().manual_seed(AGG_SEED + 1)
    zeros, ones = torch.zeros(1, 2), torch.ones(1, 2)
    with torch.no_grad():
        m, v = model.encode(x)
        expected_kl = kl_to_standard_normal(m, v).mean().item()
        codes = (m + v.sqrt() * torch.randn(5, *m.shape, generator=generator)).reshape(-1, 2)
        ratio = log_aggregate_posterior(codes, m, v) - log_normal(codes, zeros, ones)
        prior_draws = torch.randn(20000, 2, generator=generator)
        prior_ratio = log_aggregate_posterior(prior_draws, m, v) - log_normal(prior_draws, zeros, ones)
        axis = torch.linspace(-AGG_LIM, AGG_LIM, 201)
        grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1).reshape(-1, 2)
        log_q = log_aggregate_posterior(grid, m, v).reshape(201, 201)
        log_p = log_normal(grid, zeros, ones).reshape(201, 201)
    kl_agg = ratio.mean().item()
    return {
        "m": m.numpy(),
        "expected_kl": expected_kl,
        "kl_agg": kl_agg,
        "mi": expected_kl - kl_agg,
        "kl_agg_se": ratio.std().item() / len(ratio) ** 0.5,
        "log_n": math.log(len(m)),
        "axis": axis.numpy(),
        "log_q": log_q.numpy(),
        "log_p": log_p.numpy(),
        "holes": {t: (prior_ratio < -math.log(t)).float().mean().item() for t in (2, 10)},
    }


def prior_circles(ax) -> None:
    """Circles of radius 1, 2 and 3 around 0: they hold 39 %, 86 % and 99 % of N(0, I)'s mass in 2-D."""
    t = np.linspace(0, 2 * np.pi, 200)
    for r in (1.0, 2.0, 3.0):
        ax.plot(r * np.cos(t), r * np.sin(t), color=INK, lw=1.1, ls="--")


def aggregate_posterior():
    """(a) the codes' means by digit, (b) the aggregate posterior q(z), (c) log10 q(z)/p(z): the holes."""
    import torch

    torch.set_num_threads(1)
    model, x, y = train_2d_vae()
    n = aggregate_numbers(model, x)
    print(
        f"aggregate_posterior: E_x KL(q(z|x)||p(z)) = {n['expected_kl']:.3f}, KL(q(z)||p(z)) = {n['kl_agg']:.3f} "
        f"(+- {n['kl_agg_se']:.3f}), I_q(x;z) = {n['mi']:.3f} <= log N = {n['log_n']:.3f}; prior draws where "
        f"q < p/2: {n['holes'][2]:.3f}, q < p/10: {n['holes'][10]:.3f}"
    )
    fig, axes = plt.subplots(1, 3, figsize=(13.0, 4.3))
    extent = [-AGG_LIM, AGG_LIM, -AGG_LIM, AGG_LIM]
    colours = plt.get_cmap("tab10")
    for digit in range(10):
        pts = n["m"][y.numpy() == digit]
        axes[0].scatter(pts[:, 0], pts[:, 1], s=2.5, color=colours(digit), label=str(digit), rasterized=True, lw=0)
    axes[0].legend(
        markerscale=4,
        frameon=False,
        fontsize=9,
        ncol=5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.17),
        handletextpad=0.1,
        columnspacing=0.8,
    )
    image = axes[1].imshow(np.exp(n["log_q"]), origin="lower", extent=extent, cmap="Greys", interpolation="bilinear")
    fig.colorbar(image, ax=axes[1], shrink=0.8)
    ratio = np.clip((n["log_q"] - n["log_p"]) / math.log(10), -1.5, 1.5)
    radius = np.hypot(*np.meshgrid(n["axis"], n["axis"], indexing="xy"))
    ratio[radius > 3.0] = np.nan  # shown only where the prior puts 99 % of its mass (white beyond)
    image = axes[2].imshow(
        ratio, origin="lower", extent=extent, cmap="RdBu_r", vmin=-1.5, vmax=1.5, interpolation="nearest"
    )
    fig.colorbar(image, ax=axes[2], shrink=0.8, ticks=[-1.5, -1, -0.5, 0, 0.5, 1, 1.5])
    axes[2].contour(n["axis"], n["axis"], ratio, levels=[-1.0], colors=INK, linewidths=0.8)
    titles = (r"(a) $m_\phi(x)$", r"(b) $q_\phi(z)$", r"(c) $\log_{10} \, q_\phi(z) / p(z)$")
    for ax, title in zip(axes, titles):
        prior_circles(ax)
        ax.set_xlim(-AGG_LIM, AGG_LIM)
        ax.set_ylim(-AGG_LIM, AGG_LIM)
        ax.set_aspect("equal")
        ax.set_title(title, loc="left")
        ax.set_xlabel(r"$z_1$")
        ax.set_ylabel(r"$z_2$")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------

#: file stem -> the function that draws it. The pages reference ``../figures/<stem>.svg``.
FIGURES = {
    "vae_graphical_model": vae_model,
    "elbo_gap": elbo_gap,
    "gmvae_graphical_model": gmvae_model,
    "aggregate_posterior": aggregate_posterior,
    "iwae_graphical_model": iwae_model,
    "ssvae_graphical_model": ssvae_model,
    "fsvae_graphical_model": fsvae_model,
}


def expected_files() -> set[str]:
    """The file names this script writes."""
    return {f"{stem}.svg" for stem in FIGURES}


def save(fig, path: Path) -> None:
    """SVG with no date in the metadata (and no software version), so that the bytes are repeatable."""
    fig.savefig(path, format="svg", dpi=150, metadata={"Date": None, "Creator": None})
    plt.close(fig)


def draw(out: Path, only: list[str] | None = None) -> None:
    sys.path.insert(0, str(HERE.parents[1]))  # vaelab, when the script runs from a checkout
    out.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        for stem, function in FIGURES.items():
            if only is None or stem in only:
                save(function(), out / f"{stem}.svg")


def check() -> int:
    """Regenerates into a temporary folder; 1 if its file names differ from this folder's SVGs."""
    with tempfile.TemporaryDirectory() as tmp:
        draw(Path(tmp))
        made = {p.name for p in Path(tmp).glob("*.svg")}
    committed = {p.name for p in HERE.glob("*.svg")}
    if made != committed:
        print(f"missing here: {sorted(made - committed)}; not made by the script: {sorted(committed - made)}")
        return 1
    print(f"{len(made)} figures, the same names as in {HERE}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the SVG files (default: this folder)")
    parser.add_argument("--only", nargs="+", choices=sorted(FIGURES), help="draw only these figures")
    parser.add_argument("--check", action="store_true", help="regenerate into a temporary folder, compare names")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    draw(args.out, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
