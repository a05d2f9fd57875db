"""Visible checks of chapter 1 (VAE): what the notebook's check cells call.

``check_<exercise>(fn)`` prints ✓ or raises :class:`~vaelab.checks.engine.CheckFailed` naming the
likely mistake. ``sample_gaussian`` is checked by its statistics alone; the other exercises are
observed on fixed inputs (:mod:`vaelab.checks.observe`) and compared with the reference's
observations, live in the instructor's source and stored in a student handout.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch

from .engine import STANDARD_ERRORS, Case, CheckFailed, _call, _g, _pos, _randn, _report, keeps_global_rng
from .objective import ObjectiveProbe, ratio_hint, run_objective, standard_noise
from .probes import TinyVariance, narrow_posteriors, seeded
from .pure import check_cases

__all__ = [
    "check_sample_gaussian",
    "check_sample_gaussian_statistics",
    "check_log_normal",
    "check_kl_normal",
    "check_log_bernoulli_with_logits",
    "check_negative_elbo_bound",
    "vae_probe",
]


def check_sample_gaussian_statistics(sample_gaussian: Callable, n: int = 100_000, dtype=torch.float64) -> int:
    """Check moments, broadcasting, the zero-variance limit and pathwise gradients of a sampler."""
    name = "sample_gaussian"
    m = torch.tensor([1.0, -2.0, 0.5], dtype=dtype)
    v = torch.tensor([0.25, 4.0, 1.0], dtype=dtype)
    mr, vr = m.clone().requires_grad_(), v.clone().requires_grad_()
    z = _call(sample_gaussian, name, (mr.expand(n, 3), vr.expand(n, 3)))
    zd = z.detach().double()
    if torch.equal(zd[0], zd[1]) and torch.equal(zd[1], zd[2]):
        raise CheckFailed(
            f"{name}: every row of z got the same noise; draw noise of the full shape of m and v "
            "(e.g. torch.randn_like(m))."
        )
    mean, var = zd.mean(0), zd.var(0)
    se_mean = (v.double() / n).sqrt()
    if ((mean - m.double()).abs() > STANDARD_ERRORS * se_mean + 1e-9).any():
        raise CheckFailed(
            f"{name}: the sample mean {mean.tolist()} does not match m = {m.tolist()}. The noise must be "
            "standard normal, with mean 0 (torch.randn_like, not torch.rand_like)."
        )
    se_var = v.double() * math.sqrt(2.0 / n)
    if ((var - v.double()).abs() > STANDARD_ERRORS * se_var).any():
        hint = ""
        if ((var - v.double().pow(2)).abs() < STANDARD_ERRORS * v.double().pow(2) * math.sqrt(2.0 / n)).all():
            hint = " The variance is v²: the noise is scaled by v instead of sqrt(v)."
        elif ((var - 1).abs() < STANDARD_ERRORS * math.sqrt(2.0 / n)).all():
            hint = " The variance is 1: the noise is not scaled by sqrt(v)."
        elif ((var - v.double().exp()).abs() < STANDARD_ERRORS * v.double().exp() * math.sqrt(2.0 / n)).all():
            hint = " The variance is exp(v): v is treated as a log-variance."
        raise CheckFailed(
            f"{name}: the sample variance {[round(t, 3) for t in var.tolist()]} does not match v = {v.tolist()}.{hint}"
        )
    if not z.requires_grad:
        raise CheckFailed(
            f"{name}: no gradient flows to m and v. Use the reparameterisation trick, z = m + sqrt(v) * eps with "
            "eps ~ N(0, I) (torch.normal(m, std) and Normal(...).sample() do not pass gradients)."
        )
    (gm, gv) = torch.autograd.grad(z.mean(0).sum(), (mr, vr), allow_unused=True, retain_graph=True)
    if gm is None or not torch.allclose(gm.double(), torch.ones(3, dtype=torch.float64), atol=1e-6):
        raise CheckFailed(
            f"{name}: no gradient flows to m as it should (d E[z] / dm must be 1). Use the reparameterisation trick, "
            "z = m + sqrt(v) * eps with eps ~ N(0, I); torch.normal(m, std) and Normal(...).sample() do not pass "
            "gradients."
        )
    (gv,) = torch.autograd.grad(z.pow(2).mean(0).sum(), (vr,), allow_unused=True)
    # E[z²] = m² + v, so its derivative with respect to v is 1: only a pathwise sample gives that.
    if (
        gv is None
        or ((gv.double() - 1).abs() > 8 * math.sqrt(2.0 / n) * (1 + m.double().abs() / v.double().sqrt())).any()
    ):
        raise CheckFailed(
            f"{name}: d E[z²] / dv must be 1; got {None if gv is None else gv.tolist()}. The noise must enter as "
            "sqrt(v) * eps, with the gradient flowing to the variance (no .detach() of sqrt(v))."
        )
    # The vanishing-variance limit is deterministic: z must be m (v = 1e-12, not 0, so that
    # torch.distributions-based answers, which refuse a zero scale, are accepted too).
    z0 = _call(sample_gaussian, name, (m.expand(5, 3), torch.full((5, 3), 1e-12, dtype=dtype)))
    if not isinstance(z0, torch.Tensor) or z0.shape != (5, 3):
        got = tuple(z0.shape) if isinstance(z0, torch.Tensor) else type(z0).__name__
        raise CheckFailed(f"{name}(m, v) with m, v of shape (5, 3) returned {got}; z must have the shape of m.")
    if not torch.allclose(z0.detach().double(), m.expand(5, 3).double(), atol=1e-4):
        raise CheckFailed(
            f"{name}: as v -> 0 the sample must equal m; the noise must be scaled by sqrt(v) and nothing else added."
        )
    z1, z2 = (_call(sample_gaussian, name, (m, v)) for _ in range(2))
    if torch.equal(z1, z2):
        raise CheckFailed(f"{name}: two calls returned the same sample: draw fresh noise at every call.")
    # Broadcasting: a (1, Z) mean with (B, Z) variances gives (B, Z) samples.
    for m_shape, v_shape in (((1, 3), (4, 3)), ((4, 3), (1, 3))):
        zb = _call(sample_gaussian, name, (torch.zeros(m_shape, dtype=dtype), torch.ones(v_shape, dtype=dtype)))
        if not isinstance(zb, torch.Tensor) or zb.shape != (4, 3):
            raise CheckFailed(
                f"{name}: m of shape {m_shape} and v of shape {v_shape} must broadcast to samples of shape (4, 3)."
            )
        if any(torch.equal(zb[i], zb[j]) for i in range(4) for j in range(i)):
            raise CheckFailed(
                f"{name}: with m of shape {m_shape} and v of shape {v_shape}, two rows of z got the same noise. Draw "
                "eps with the broadcast shape of m and v (e.g. torch.randn(torch.broadcast_shapes(m.shape, v.shape))), "
                "so that every element gets its own independent draw."
            )
    return 6


def check_sample_gaussian(sample_gaussian: Callable) -> None:
    """Visible check: moments, the zero-variance limit, gradients, broadcasting, fresh noise."""
    keeps_global_rng(sample_gaussian, "sample_gaussian", (torch.zeros(2, 3), torch.ones(2, 3)))
    _report("sample_gaussian", check_sample_gaussian_statistics(sample_gaussian, n=50_000))


def at_floor(*shape: int, seed: int, floor: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, m, v)`` in float64 with every variance at the encoder's floor and x a draw of N(m, v):
    an epsilon added to v, or a clamp of v, changes the log-density there by up to log 2 per coordinate."""
    m = _randn(*shape, seed=seed, dtype=torch.float64)
    v = torch.full(shape, floor, dtype=torch.float64)
    return m + v.sqrt() * _randn(*shape, seed=seed + 1, dtype=torch.float64), m, v


def log_normal_cases() -> list[Case]:
    f64 = torch.float64
    return [
        Case("x, m, v of shape (4, 3)", (_randn(4, 3, seed=1), _randn(4, 3, seed=2), _pos(4, 3, seed=3))),
        Case(
            "z (5, 1, 2) against components m, v (1, 3, 2)",
            (_randn(5, 1, 2, seed=4), _randn(1, 3, 2, seed=5), _pos(1, 3, 2, seed=6)),
        ),
        Case("variances at the encoder's floor (1e-8), float64", at_floor(4, 3, seed=7)),
        Case(
            "tiny variances (1e-6) and points far from m (the density underflows to 0), float64",
            (_randn(4, 3, seed=9, dtype=f64), _randn(4, 3, seed=10, dtype=f64), torch.full((4, 3), 1e-6, dtype=f64)),
        ),
        Case(
            "one variance per example, shape (4, 1), shared by the Z = 5 coordinates",
            (_randn(4, 5, seed=11), _randn(4, 5, seed=12), _pos(4, 1, seed=13)),
        ),
        Case(
            "tiny variances (1e-5) over Z = 20 coordinates (their product underflows to 0)",
            (_randn(3, 20, seed=14, scale=1e-3), torch.zeros(3, 20), torch.full((3, 20), 1e-5)),
        ),
    ]


def kl_normal_cases() -> list[Case]:
    return [
        Case(
            "q and p of shape (4, 3)",
            (_randn(4, 3, seed=1), _pos(4, 3, seed=2), _randn(4, 3, seed=3), _pos(4, 3, seed=4)),
        ),
        Case(
            "q (4, 3) against the prior N(0, I) of shape (1, 3)",
            (
                _randn(4, 3, seed=5),
                _pos(4, 3, seed=6),
                torch.zeros(1, 3, dtype=torch.float32),
                torch.ones(1, 3, dtype=torch.float32),
            ),
        ),
        Case(
            "a very narrow q (variances at the encoder's floor, 1e-8) against N(0, I), float64",
            (
                _randn(4, 3, seed=7, dtype=torch.float64),
                torch.full((4, 3), 1e-8, dtype=torch.float64),
                torch.zeros(1, 3, dtype=torch.float64),
                torch.ones(1, 3, dtype=torch.float64),
            ),
        ),
    ]


def log_bernoulli_cases() -> list[Case]:
    x = torch.bernoulli(torch.full((4, 6), 0.5, dtype=torch.float32), generator=_g(1))
    return [
        Case("x, logits of shape (4, 6)", (x, _randn(4, 6, seed=2))),
        Case("large logits (±100)", (x, 100 * torch.sign(_randn(4, 6, seed=3)))),
    ]


def check_log_normal(log_normal: Callable) -> None:
    check_cases(
        "01_vae/log_normal",
        log_normal,
        log_normal_cases(),
        "Small differences like this come from an epsilon added to v or an approximate constant for log(2π).",
        otherwise="Sum over the last dimension (dim=-1), whatever the number of leading dimensions.",
    )


def check_kl_normal(kl_normal: Callable) -> None:
    check_cases(
        "01_vae/kl_normal",
        kl_normal,
        kl_normal_cases(),
        "Small differences like this come from an epsilon added to a variance or inside a log.",
        otherwise="kl_normal is the analytic (closed form) KL between two diagonal Gaussians, not an estimate from a "
        "sample.",
    )


def check_log_bernoulli_with_logits(log_bernoulli_with_logits: Callable) -> None:
    check_cases(
        "01_vae/log_bernoulli_with_logits",
        log_bernoulli_with_logits,
        log_bernoulli_cases(),
        "Small differences like this come from an epsilon or a clamp inside a log: compute the log-probability from "
        "the logits directly (F.binary_cross_entropy_with_logits or F.logsigmoid).",
    )


# --------------------------------------------------------------------------------------------------
# negative_elbo_bound: beta, the analytic KL, the zero-variance limit, the sampled term, gradients.
# --------------------------------------------------------------------------------------------------

BETAS = (1.0, 2.0)


def _vae_inputs():
    from ..models import VAE

    model = seeded(lambda: VAE(z_dim=3, x_dim=20, hidden=16))
    narrow_posteriors(model)  # variances near 0.1: a sample scaled by v instead of sqrt(v) stands out
    x = torch.bernoulli(torch.full((64, 20), 0.3, dtype=torch.float32), generator=_g(2))
    return model, x


def _beta_consistency(name: str, beta: float, nelbo, kl, rec) -> None:
    """``nelbo = rec + beta * kl``: checked without the reference."""
    if torch.allclose(nelbo.detach().double(), (rec + beta * kl).detach().double(), rtol=1e-5, atol=1e-5):
        return
    if beta != 1 and torch.allclose(nelbo.detach(), (rec + kl).detach(), rtol=1e-5):
        raise CheckFailed(f"{name}: with beta = {beta}, nelbo must be rec + beta * kl; beta is ignored.")
    if torch.allclose(nelbo.detach(), (beta * rec + kl).detach(), rtol=1e-5):
        raise CheckFailed(
            f"{name}: with beta = {beta}, nelbo = beta * (third output) + (second output). Either beta multiplies the "
            "reconstruction term (it weights the KL: nelbo = rec + beta * kl), or kl and rec are swapped in the "
            "returned tuple (return nelbo, kl, rec)."
        )
    raise CheckFailed(
        f"{name}: nelbo ({nelbo.item():.5g}) must equal rec + beta * kl ({(rec + beta * kl).item():.5g})."
    )


def vae_probe(n_calls: int = 30) -> ObjectiveProbe:
    """The chapter-1 objective on a small VAE: KL for two betas, the limit, the mean of rec, gradients."""

    def calls(model, x):
        return [((model, x, beta), f"beta = {beta:g}") for beta in BETAS]

    return ObjectiveProbe(
        name="negative_elbo_bound",
        outputs=("nelbo", "kl", "rec"),
        inputs=_vae_inputs,
        calls=calls,
        exact=("kl",),
        limit_args=lambda model, x: (model, x, 1.0),
        sampled=("rec",),
        n_calls=n_calls,
        consistency=lambda name, args, out: _beta_consistency(name, args[2], *out),
        extra=[standard_noise, _vae_extremes],
    )


def shifted_prior(model):
    """A copy of a VAE whose prior ``model.prior()`` is not N(0, I) (means -1..1, variances 0.5..2)."""
    model = copy.deepcopy(model)
    z_dim = model.z_prior_m.shape[-1]
    with torch.no_grad():
        model.z_prior_m.copy_(torch.linspace(-1.0, 1.0, z_dim).reshape(1, z_dim))
        model.z_prior_v.copy_(torch.linspace(0.5, 2.0, z_dim).reshape(1, z_dim))
    return model


def confident_decoder(model, scale: float = 80.0):
    """A copy of ``model`` whose decoder returns logits of several hundreds: a sigmoid rounds to 0 or 1."""
    model = copy.deepcopy(model)
    last = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(scale)
        last.bias.mul_(scale)
    return model


PRIOR = "kl with a prior other than N(0, I)"
CONFIDENT = "rec with a confident decoder (logits of several hundreds), in the zero-variance limit"


def _vae_extremes(probe: ObjectiveProbe, fn: Callable, inputs: tuple, obs) -> None:
    """The model's own prior (not N(0, I)), and a decoder so confident that log(sigmoid) rounds to log 0."""
    model, x = inputs
    obs.values[PRIOR] = probe._call(fn, (shifted_prior(model), x, 1.0))[1].detach()
    with torch.random.fork_rng():
        torch.manual_seed(probe.seed)
        obs.values[CONFIDENT] = probe._call(fn, (TinyVariance(confident_decoder(model)), x, 1.0))[2].detach()


def _vae_hints(where: str, got, want) -> str:
    if where == PRIOR:
        return "Use the model's prior, pm, pv = model.prior(): it is not always N(0, I)."
    if where == CONFIDENT:
        return (
            "log(sigmoid(logits)) rounds to log(0) for confident logits: compute the reconstruction from the logits "
            "in a stable way (log_bernoulli_with_logits, F.binary_cross_entropy_with_logits or F.logsigmoid)."
        )
    model, x = _vae_inputs()
    hint = ratio_hint(where, got, want, batch=x.shape[0], last_dims={"kl": model.z_dim, "rec": x.shape[1]}, betas=BETAS)
    if not hint and where.startswith("kl with"):
        return (
            "kl is the analytic KL, kl_normal(m, v, pm, pv) with pm, pv = model.prior() (q first, then the prior), "
            "averaged over the batch: the same at every call, not a Monte Carlo estimate at the sample."
        )
    return hint


def check_negative_elbo_bound(negative_elbo_bound: Callable) -> None:
    """Visible check of the VAE's ``negative_elbo_bound``."""
    run_objective("01_vae/negative_elbo_bound", negative_elbo_bound, vae_probe(), _vae_hints)
