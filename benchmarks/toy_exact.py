"""A toy model whose log p(x) is exact: the ELBO gap, the IWAE bound's 1/m rate and the variance
of the Monte Carlo KL, each against the truth.

    OMP_NUM_THREADS=1 python benchmarks/toy_exact.py --json benchmarks/results/toy_exact.json \\
        --figures book/extra_figures

The model is linear-Gaussian (probabilistic PCA): ``p(z) = N(0, I_Z)``, ``p(x|z) = N(Wz + b, s2 I_D)``,
so that

* ``p(x) = N(b, W W^T + s2 I)``, exactly;
* ``p(z|x) = N(mu(x), S)`` with ``S = (I + W^T W / s2)^-1`` and ``mu(x) = S W^T (x - b) / s2``.

``W`` is built so that the posterior of ``Z = 2`` dimensions is correlated (precision eigenvalues
``1 + a``, axes at 45 degrees). Two amortised diagonal Gaussians ``q(z|x) = N(mu(x) + delta, diag(c))``
stand in for an encoder that cannot be exact:

* ``wide``: ``c = 1.5 diag(S)`` (1.5 times the posterior's marginal variances) and ``delta`` half a
  posterior standard deviation: wide enough that the importance weights ``p(z|x) / q(z|x)`` have
  finite moments up to the fourth;
* ``mean-field``: ``delta = 0``, ``c = 1 / diag(S^-1)``: the diagonal Gaussian that minimises
  ``KL(q || p(z|x))``, narrower than the posterior along its long axis.

Measured, with the exact values beside them:

1. the ELBO (a Monte Carlo mean over ``--samples`` draws) and ``log p(x) - ELBO = KL(q || p(z|x))``;
2. the IWAE gap ``log p(x) - L_m`` for m = 1 ... 1000, each ``L_m`` a mean over ``--replicates``
   independent estimates, a fit of ``gap = c m^-k`` for m >= 10, and the asymptote
   ``gap ~ chi2(p(z|x) || q) / (2m)`` where ``chi2 = E_q[(p/q)^2] - 1``. The n-th moment of the
   normalised weight is finite only when ``n S^-1 - (n - 1) diag(c)^-1`` is positive definite: for
   the mean-field q not even the second is, and the gap shrinks more slowly than 1/m;
3. the single-sample Monte Carlo KL ``log q(z|x) - log p(z)`` against the analytic
   ``KL(q(z|x) || p(z))``: its mean, its variance and the exact variance
   ``sum_j (m_j^2 c_j + (c_j - 1)^2 / 2)``, and the variance of the one-sample ELBO estimate with
   either KL.

The gaps do not depend on ``x``: ``log p(x, z) - log q(z|x) = log p(x) + log p(z|x) - log q(z|x)``,
and with ``delta`` and ``c`` fixed the law of ``z - mu(x)`` under ``q`` is the same for every ``x``.
torch.distributions gives the exact densities; everything is float64 and seeded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import shlex
import sys
from pathlib import Path

import torch
from torch.distributions import MultivariateNormal, Normal

SMOKE_TEST = "tests/test_collapse_and_toy.py::test_toy_benchmark_smoke"  # its smoke run (tests/test_benchmarks.py)


@contextlib.contextmanager
def float64():
    """Every computation of the toy in double precision; the caller's default dtype is restored after
    (importing this module changes nothing)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def build_model(d: int = 4, a=(8.0, 0.5), s2: float = 0.25, seed: int = 0) -> dict:
    """``W: (D, Z)``, ``b: (D,)``, ``s2``: ``W^T W / s2 = R diag(a) R^T`` with R a 45-degree rotation."""
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    r = torch.tensor([[1.0, -1.0], [1.0, 1.0]]) / math.sqrt(2.0)
    w = basis[:, :2] @ torch.diag(torch.tensor(a).sqrt() * math.sqrt(s2)) @ r.T
    return {"W": w, "b": torch.randn(d, generator=g), "s2": s2}


def exact(model: dict, x: torch.Tensor) -> dict:
    """``log p(x)`` and the posterior ``p(z|x) = N(mu, S)`` of one ``x: (D,)``."""
    w, b, s2 = model["W"], model["b"], model["s2"]
    marginal = MultivariateNormal(b, w @ w.T + s2 * torch.eye(len(b)))
    s = torch.linalg.inv(torch.eye(w.shape[1]) + w.T @ w / s2)
    return {"log_px": marginal.log_prob(x), "mu": s @ w.T @ (x - b) / s2, "S": s}


def log_joint(model: dict, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``log p(x, z) = log p(x|z) + log p(z)``: ``z: (..., Z) -> (...)``."""
    mean = z @ model["W"].T + model["b"]
    return Normal(mean, math.sqrt(model["s2"])).log_prob(x).sum(-1) + Normal(0.0, 1.0).log_prob(z).sum(-1)


def encoders(post: dict) -> dict[str, Normal]:
    """The two diagonal Gaussians ``q(z|x)`` of the docstring."""
    sd = post["S"].diagonal().sqrt()
    return {
        "wide": Normal(post["mu"] + 0.5 * sd, math.sqrt(1.5) * sd),
        "mean-field": Normal(post["mu"], torch.linalg.inv(post["S"]).diagonal().rsqrt()),
    }


def gaussian_kl(q: Normal, mu: torch.Tensor, cov: torch.Tensor) -> float:
    """``KL(q || N(mu, cov))`` for a diagonal ``q``."""
    full = MultivariateNormal(q.loc, torch.diag(q.scale**2))
    return torch.distributions.kl_divergence(full, MultivariateNormal(mu, cov)).item()


def moment_finite(q: Normal, cov: torch.Tensor, n: int) -> bool:
    """Whether ``E_q[(p/q)^n]`` is finite for ``p = N(mu, cov)``: ``n cov^-1 - (n-1) diag(q.var)^-1`` is
    positive definite (the integrand ``p^n / q^(n-1)`` is then a Gaussian-shaped function)."""
    a = n * torch.linalg.inv(cov) - (n - 1) * torch.diag(q.scale**-2)
    return bool(torch.linalg.eigvalsh(a).min() > 0)


def chi_square(q: Normal, mu: torch.Tensor, cov: torch.Tensor) -> float:
    """``E_q[(p/q)^2] - 1`` for ``p = N(mu, cov)``; ``inf`` when ``2 cov^-1 - diag(q.var)^-1`` is not
    positive definite. Closed form: ``int p^2/q = |S_q|^(1/2) / (|S_p| |A|^(1/2)) exp(e)`` with
    ``A = 2 L_p - L_q``, ``h = 2 L_p mu - L_q m``, ``e = h^T A^-1 h / 2 - mu^T L_p mu + m^T L_q m / 2``."""
    if not moment_finite(q, cov, 2):
        return math.inf
    lp, lq, m = torch.linalg.inv(cov), torch.diag(q.scale**-2), q.loc
    a = 2 * lp - lq
    h = 2 * lp @ mu - lq @ m
    e = 0.5 * h @ torch.linalg.solve(a, h) - mu @ lp @ mu + 0.5 * m @ lq @ m
    log_int = 0.5 * torch.logdet(torch.diag(q.scale**2)) - torch.logdet(cov) - 0.5 * torch.logdet(a) + e
    return math.expm1(log_int.item())


def draw(q: Normal, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    """``z ~ q``, ``shape + (Z,)``, from the local generator ``g``."""
    return q.loc + q.scale * torch.randn(*shape, len(q.loc), generator=g)


def log_weights(model: dict, x: torch.Tensor, q: Normal, z: torch.Tensor) -> torch.Tensor:
    """``log p(x, z) - log q(z|x)``: ``(..., Z) -> (...)``."""
    return log_joint(model, x, z) - q.log_prob(z).sum(-1)


def elbo_gap(model, x, post, q, samples: int, g) -> dict:
    """The ELBO by Monte Carlo, and ``log p(x) - ELBO`` against ``KL(q || p(z|x))``."""
    lw = log_weights(model, x, q, draw(q, (samples,), g))
    elbo, se = lw.mean().item(), (lw.std() / math.sqrt(samples)).item()
    return {
        "log_px": post["log_px"].item(),
        "elbo_mc": elbo,
        "elbo_mc_se": se,
        "gap_mc": post["log_px"].item() - elbo,
        "kl_q_posterior": gaussian_kl(q, post["mu"], post["S"]),
    }


def iwae_gaps(model, x, post, q, ms, replicates: int, g, max_rows: int = 4_000_000) -> dict:
    """``log p(x) - L_m`` for each m, over ``replicates`` independent estimates of ``L_m``.

    ``gap_plain``: ``-mean(log W)``, with ``W = mean_i w_i / p(x)`` (``m`` weights per estimate).
    ``gap_cv``: ``-mean(log W - W + 1)``, the same expectation since ``E[W] = 1`` exactly (a control
    variate that only a known ``p(x)`` allows). For large ``m`` its variance is far smaller, but it
    is finite only when the weights' fourth moment is (see :func:`moment_finite`).
    """
    rows = {"m": [], "gap_cv": [], "gap_cv_se": [], "gap_plain": [], "gap_plain_se": []}
    for m in ms:
        values, plain = [], []
        per_chunk = max(1, max_rows // m)
        for start in range(0, replicates, per_chunk):
            r = min(per_chunk, replicates - start)
            lw = log_weights(model, x, q, draw(q, (r, m), g)) - post["log_px"]
            log_w_bar = torch.logsumexp(lw, dim=1) - math.log(m)
            plain.append(-log_w_bar)
            values.append(-(log_w_bar - torch.expm1(log_w_bar)))
        values, plain = torch.cat(values), torch.cat(plain)
        rows["m"].append(m)
        for key, v in (("gap_cv", values), ("gap_plain", plain)):
            rows[key].append(v.mean().item())
            rows[key + "_se"].append((v.std() / math.sqrt(replicates)).item())
    return rows


def fit_rate(rows: dict, m_min: int = 30) -> dict:
    """Least squares of ``log gap = log c - k log m`` over ``m >= m_min``."""
    keep = [i for i, m in enumerate(rows["m"]) if m >= m_min and rows["gap"][i] > 0]
    lm = torch.tensor([math.log(rows["m"][i]) for i in keep])
    lg = torch.tensor([math.log(rows["gap"][i]) for i in keep])
    design = torch.stack([torch.ones_like(lm), -lm], 1)
    log_c, k = torch.linalg.lstsq(design, lg[:, None]).solution[:, 0].tolist()
    return {"m_min": m_min, "exponent": k, "c": math.exp(log_c)}


def mc_kl(model, x, q: Normal, samples: int, g) -> dict:
    """The single-sample KL ``log q(z|x) - log p(z)`` against ``KL(q(z|x) || p(z))``, and the
    variance of the one-sample ELBO estimate with the analytic or the Monte Carlo KL."""
    prior = Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))
    z = draw(q, (samples,), g)
    single = q.log_prob(z).sum(-1) - prior.log_prob(z).sum(-1)
    rec = -(log_joint(model, x, z) - prior.log_prob(z).sum(-1))  # -log p(x|z)
    analytic = torch.distributions.kl_divergence(q, prior).sum().item()
    mean, var = q.loc, q.scale**2
    return {
        "kl_analytic": analytic,
        "kl_mc_mean": single.mean().item(),
        "kl_mc_mean_se": (single.std() / math.sqrt(samples)).item(),
        "kl_mc_variance": single.var().item(),
        "kl_mc_variance_exact": (mean**2 * var + (var - 1) ** 2 / 2).sum().item(),
        "nelbo_variance_analytic_kl": rec.var().item(),
        "nelbo_variance_mc_kl": (rec + single).var().item(),
        "_single": single[:20_000],
    }


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _ellipse(ax, mu, cov, **kwargs) -> None:
    """The 1- and 2-sigma contours of ``N(mu, cov)`` in the plane."""
    t = torch.linspace(0, 2 * math.pi, 200)
    circle = torch.stack([t.cos(), t.sin()], 1)
    root = torch.linalg.cholesky(cov)
    for k, style in ((1, "-"), (2, ":")):
        pts = mu + k * circle @ root.T
        ax.plot(pts[:, 0], pts[:, 1], ls=style, **(kwargs if k == 1 else {**kwargs, "label": None}))


def figure_posterior(post, qs: dict, gaps: dict):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    _ellipse(ax, post["mu"], post["S"], color="k", label="$p(z \\mid x)$ (exact)")
    for (name, q), color in zip(qs.items(), ("C0", "C1")):
        _ellipse(
            ax,
            q.loc,
            torch.diag(q.scale**2),
            color=color,
            label=f"$q$ {name}: gap {gaps[name]['kl_q_posterior']:.3f} nats",
        )
    ax.set_aspect("equal")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.legend(fontsize="small", loc="upper right")
    ax.set_title("Posterior and two approximations (1 and 2 sd)", fontsize="medium")
    fig.tight_layout()
    return fig


def figure_iwae(results: dict):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    for (name, r), color in zip(results.items(), ("C0", "C1")):
        rows, m = r["iwae"], torch.tensor(r["iwae"]["m"], dtype=torch.float64)
        ax.errorbar(
            rows["m"],
            rows["gap"],
            yerr=[2 * s for s in rows["gap_se"]],
            fmt="o",
            ms=3,
            color=color,
            label=f"{name}: measured, slope $-{r['fit']['exponent']:.2f}$",
        )
        if math.isfinite(r["chi2"]):
            ax.plot(m, r["chi2"] / (2 * m), color=color, lw=0.8, label=f"{name}: $\\chi^2 / (2m)$")
        ax.axhline(r["elbo"]["kl_q_posterior"], color=color, lw=0.6, ls=":", label=f"{name}: ELBO gap, exact")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("importance samples $m$")
    ax.set_ylabel("$\\log p(x) - \\mathcal{L}_m$ (nats)")
    ax.set_title("IWAE gap against the exact log-likelihood", fontsize="medium")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def figure_mc_kl(kl: dict):
    from matplotlib.figure import Figure

    single = kl["_single"]
    fig = Figure(figsize=(8.4, 3.2))
    left, right = fig.subplots(1, 2)
    left.hist(single.numpy(), bins=80, density=True, color="C0", alpha=0.7)
    left.axvline(kl["kl_analytic"], color="k", label=f"analytic KL = {kl['kl_analytic']:.3f}")
    left.set_xlabel("single-sample estimate $\\log q(z|x) - \\log p(z)$")
    left.legend(fontsize="small")
    left.set_title(f"one sample: variance {kl['kl_mc_variance']:.3f}", fontsize="medium")
    n = torch.arange(1, len(single) + 1, dtype=torch.float64)
    shown = torch.unique(torch.logspace(0, math.log10(len(single)), 300).long()) - 1  # log-spaced: a small SVG
    n, running = n[shown], (single.cumsum(0) / torch.arange(1, len(single) + 1))[shown]
    sd = math.sqrt(kl["kl_mc_variance_exact"]) / n.sqrt()
    right.plot(n, running, color="C0", lw=0.8, label="running mean")
    right.fill_between(
        n,
        kl["kl_analytic"] - 2 * sd,
        kl["kl_analytic"] + 2 * sd,
        color="k",
        alpha=0.15,
        label="analytic $\\pm 2\\sqrt{\\mathrm{Var}/n}$",
    )
    right.set_xscale("log")
    right.set_xlabel("samples $n$")
    right.legend(fontsize="small")
    right.set_title("mean of $n$ samples", fontsize="medium")
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> str:
    fig.savefig(path, format="svg", metadata={"Date": None})
    return str(path)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

M_VALUES = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000)


def _rounded(value, digits: int = 5):
    if isinstance(value, float):  # JSON has no infinity: an infinite chi-square is written as null
        return float(f"{value:.{digits}g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    return value


def main(argv=None) -> int:
    with float64():
        return _main(argv)


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000, help="draws for the ELBO and the KL")
    parser.add_argument("--replicates", type=int, default=10_000, help="estimates of L_m per m")
    parser.add_argument("--max-m", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--figures", help="write SVG figures into this folder")
    args = parser.parse_args(argv)

    model = build_model(seed=args.seed)
    g = torch.Generator().manual_seed(args.seed)
    z0 = torch.randn(model["W"].shape[1], generator=g)
    x = z0 @ model["W"].T + model["b"] + math.sqrt(model["s2"]) * torch.randn(len(model["b"]), generator=g)
    post = exact(model, x)
    qs = encoders(post)
    ms = [m for m in M_VALUES if m <= args.max_m]
    results = {}
    for name, q in qs.items():
        r = {
            "elbo": elbo_gap(model, x, post, q, args.samples, g),
            "chi2": chi_square(q, post["mu"], post["S"]),
            "finite_moments_up_to": max(n for n in range(1, 21) if moment_finite(q, post["S"], n)),
            "iwae": iwae_gaps(model, x, post, q, ms, args.replicates, g),
        }
        cv = moment_finite(q, post["S"], 4)
        r["iwae"]["estimator"] = "cv" if cv else "plain"
        r["iwae"]["gap"] = r["iwae"]["gap_cv" if cv else "gap_plain"]
        r["iwae"]["gap_se"] = r["iwae"]["gap_cv_se" if cv else "gap_plain_se"]
        r["fit"] = fit_rate(r["iwae"])
        r["kl"] = mc_kl(model, x, q, args.samples, g)
        results[name] = r
        print(
            f"q {name:10s}: KL(q||p(z|x)) {r['elbo']['kl_q_posterior']:.4f}, log p(x) - ELBO (MC) "
            f"{r['elbo']['gap_mc']:.4f} +- {r['elbo']['elbo_mc_se']:.4f}; chi2 {r['chi2']:.4f}; "
            f"gap ~ {r['fit']['c']:.4f} m^-{r['fit']['exponent']:.3f}; MC KL var {r['kl']['kl_mc_variance']:.4f} "
            f"(exact {r['kl']['kl_mc_variance_exact']:.4f})",
            flush=True,
        )
    written = []
    if args.figures:
        out = Path(args.figures)
        out.mkdir(parents=True, exist_ok=True)
        gaps = {k: r["elbo"] for k, r in results.items()}
        written = [
            _save(figure_posterior(post, qs, gaps), out / "toy_posterior.svg"),
            _save(figure_iwae(results), out / "toy_iwae_gap.svg"),
            _save(figure_mc_kl(results["wide"]["kl"]), out / "toy_mc_kl.svg"),
        ]
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "benchmark": "toy_exact",
                    "command": "OMP_NUM_THREADS=1 python " + shlex.join(sys.argv),
                    "seed": args.seed,
                    "samples": args.samples,
                    "replicates": args.replicates,
                    "model": {
                        "D": len(model["b"]),
                        "Z": model["W"].shape[1],
                        "s2": model["s2"],
                        "posterior_cov": _rounded(post["S"].tolist()),
                        "posterior_corr": _rounded((post["S"][0, 1] / post["S"].diagonal().prod().sqrt()).item()),
                    },
                    "threads": torch.get_num_threads(),
                    "machine": platform.machine(),
                    "torch": torch.__version__,
                    "figures": written,
                    "q": _rounded(results),
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
