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

from .engine import RESETS_GLOBAL_RNG, STANDARD_ERRORS, Case, CheckFailed, _call, _g, _pos, _randn, resets_global_rng
from .graded import Check, run_check
from .inputs import current_offset
from .objective import ObjectiveProbe, ratio_hint, standard_noise
from .observe import Observation, fingerprint
from .probes import TinyVariance, narrow_posteriors, seeded
from .pure import cases_check

__all__ = [
    "check_sample_gaussian",
    "check_sample_gaussian_statistics",
    "observe_sample_gaussian",
    "judge_sample_gaussian",
    "sample_gaussian_check",
    "gaussian_params",
    "check_log_normal",
    "check_kl_normal",
    "check_log_bernoulli_with_logits",
    "check_negative_elbo_bound",
    "vae_probe",
]


def gaussian_params(dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """``(m, v)`` of shape ``(3,)``: the visible check's fixed values, other ones under a seed offset.

    The variances are always 0.25, 4 and 1 (permuted, times a common factor in [0.8, 1.2] under an
    offset): v, v² and 1 then differ on some coordinate by far more than the tests' tolerance, so the
    hints that tell them apart keep their power.
    """
    if current_offset() == 0:
        return torch.tensor([1.0, -2.0, 0.5], dtype=dtype), torch.tensor([0.25, 4.0, 1.0], dtype=dtype)
    m = _randn(3, seed=0, dtype=torch.float64, scale=1.5)
    factor = 0.8 + 0.4 * torch.rand(1, generator=_g(2), dtype=torch.float64)
    v = torch.tensor([0.25, 4.0, 1.0], dtype=torch.float64)[torch.randperm(3, generator=_g(1))] * factor
    return m.to(dtype), v.to(dtype)


def _shape_of(out) -> str:
    return str(tuple(out.shape)) if isinstance(out, torch.Tensor) else type(out).__name__


def _draw(sample_gaussian: Callable, m: torch.Tensor, v: torch.Tensor, strict: bool = False) -> torch.Tensor:
    """One call; raises in the kernel unless it returns a tensor (of the broadcast shape of m and v
    when ``strict``: a draw of another shape is otherwise judged, in its turn, by the verdict)."""
    z = _call(sample_gaussian, NAME, (m, v))
    shape = torch.broadcast_shapes(m.shape, v.shape)
    if not isinstance(z, torch.Tensor) or (strict and z.shape != shape):
        raise CheckFailed(
            f"{NAME}(m, v) with m, v of shape {tuple(shape)} returned {_shape_of(z)}; z must have the shape of m."
        )
    return z


NAME = "sample_gaussian"
# The records of observe_sample_gaussian.
DRAWS, HAS_GRAD, GRAD_M, GRAD_V = "draws", "z has a gradient", "d E[z] / dm", "d E[z²] / dv"
LIMIT, FRESH, RESETS = "draws as v -> 0", "two calls", "resets the global random state"
BROADCAST = (((1, 3), (4, 3)), ((4, 3), (1, 3)))


def observe_sample_gaussian(
    sample_gaussian: Callable, n: int = 50_000, dtype=torch.float64, random_state: bool = True
) -> Observation:
    """Draws of ``sample_gaussian`` for :func:`judge_sample_gaussian`: ``n`` draws of ``(3,)`` (float64,
    ``(n, 3)``: 50 000 draws are 1.2 MB and give standard errors of 0.6 % of the variance), the
    gradients autograd gives in the kernel, draws with v -> 0, two single calls, broadcast draws, and
    whether the call resets the global random state (1) or not (0, also when ``random_state`` is False:
    not looked at)."""
    m, v = gaussian_params(dtype)
    obs = Observation(inputs=fingerprint(m.double(), v.double()))
    small = (torch.zeros(2, 3), torch.ones(2, 3))
    obs.records[RESETS] = torch.tensor(float(random_state and resets_global_rng(sample_gaussian, NAME, small)))
    mr, vr = m.clone().requires_grad_(), v.clone().requires_grad_()
    z = _draw(sample_gaussian, mr.expand(n, 3), vr.expand(n, 3), strict=True)
    obs.records[DRAWS] = z.detach().double()
    obs.records[HAS_GRAD] = torch.tensor(float(z.requires_grad))
    if z.requires_grad:
        gm, _ = torch.autograd.grad(z.mean(0).sum(), (mr, vr), allow_unused=True, retain_graph=True)
        (gv,) = torch.autograd.grad(z.pow(2).mean(0).sum(), (vr,), allow_unused=True)
        for key, g in ((GRAD_M, gm), (GRAD_V, gv)):
            if g is not None:
                obs.records[key] = g.detach().double()
    # The vanishing-variance limit is deterministic: z must be m (v = 1e-12, not 0, so that
    # torch.distributions-based answers, which refuse a zero scale, are accepted too).
    obs.records[LIMIT] = (
        _draw(sample_gaussian, m.expand(5, 3), torch.full((5, 3), 1e-12, dtype=dtype)).detach().double()
    )
    for i in range(2):
        obs.records[f"{FRESH}: {i + 1}"] = _draw(sample_gaussian, m, v).detach().double()
    # Broadcasting: a (1, Z) mean with (B, Z) variances gives (B, Z) samples.
    for m_shape, v_shape in BROADCAST:
        zb = _draw(sample_gaussian, torch.zeros(m_shape, dtype=dtype), torch.ones(v_shape, dtype=dtype))
        obs.records[f"m {m_shape}, v {v_shape}"] = zb.detach().double()
    return obs


def judge_sample_gaussian(obs: Observation) -> None:
    """Moments, pathwise gradients, the zero-variance limit, fresh noise and broadcasting, judged from
    the records of :func:`observe_sample_gaussian` alone."""
    m, v = (t.double() for t in gaussian_params())
    if obs.inputs != fingerprint(m, v):
        raise CheckFailed(f"{NAME}: the draws were made with other m and v than the check's (another seed offset?).")
    r = obs.records
    if r[RESETS].item():
        raise CheckFailed(RESETS_GLOBAL_RNG.format(name=NAME))
    _judge_moments(r[DRAWS], m, v)
    _judge_gradients(r, m, v, r[DRAWS].shape[0])
    if r[LIMIT].shape != (5, 3):
        raise CheckFailed(
            f"{NAME}(m, v) with m, v of shape (5, 3) returned {tuple(r[LIMIT].shape)}; z must have the shape of m."
        )
    if not torch.allclose(r[LIMIT], m.expand(5, 3), atol=1e-4):
        raise CheckFailed(
            f"{NAME}: as v -> 0 the sample must equal m; the noise must be scaled by sqrt(v) and nothing else added."
        )
    if torch.equal(r[f"{FRESH}: 1"], r[f"{FRESH}: 2"]):
        raise CheckFailed(f"{NAME}: two calls returned the same sample: draw fresh noise at every call.")
    for m_shape, v_shape in BROADCAST:
        zb = r[f"m {m_shape}, v {v_shape}"]
        if zb.shape != (4, 3):
            raise CheckFailed(
                f"{NAME}: m of shape {m_shape} and v of shape {v_shape} must broadcast to samples of shape (4, 3)."
            )
        if any(torch.equal(zb[i], zb[j]) for i in range(4) for j in range(i)):
            raise CheckFailed(
                f"{NAME}: with m of shape {m_shape} and v of shape {v_shape}, two rows of z got the same noise. Draw "
                "eps with the broadcast shape of m and v (e.g. torch.randn(torch.broadcast_shapes(m.shape, v.shape))), "
                "so that every element gets its own independent draw."
            )


def _judge_moments(zd: torch.Tensor, m: torch.Tensor, v: torch.Tensor) -> None:
    n = zd.shape[0]
    if torch.equal(zd[0], zd[1]) and torch.equal(zd[1], zd[2]):
        raise CheckFailed(
            f"{NAME}: every row of z got the same noise; draw noise of the full shape of m and v "
            "(e.g. torch.randn_like(m))."
        )
    mean, var = zd.mean(0), zd.var(0)
    if ((mean - m).abs() > STANDARD_ERRORS * (v / n).sqrt() + 1e-9).any():
        raise CheckFailed(
            f"{NAME}: the sample mean {mean.tolist()} does not match m = {m.tolist()}. The noise must be "
            "standard normal, with mean 0 (torch.randn_like, not torch.rand_like)."
        )
    se = math.sqrt(2.0 / n)
    if ((var - v).abs() > STANDARD_ERRORS * v * se).any():
        hint = ""
        if ((var - v.pow(2)).abs() < STANDARD_ERRORS * v.pow(2) * se).all():
            hint = " The variance is v²: the noise is scaled by v instead of sqrt(v)."
        elif ((var - 1).abs() < STANDARD_ERRORS * se).all():
            hint = " The variance is 1: the noise is not scaled by sqrt(v)."
        elif ((var - v.exp()).abs() < STANDARD_ERRORS * v.exp() * se).all():
            hint = " The variance is exp(v): v is treated as a log-variance."
        raise CheckFailed(
            f"{NAME}: the sample variance {[round(t, 3) for t in var.tolist()]} does not match v = {v.tolist()}.{hint}"
        )


def _judge_gradients(r: dict, m: torch.Tensor, v: torch.Tensor, n: int) -> None:
    if not r[HAS_GRAD].item():
        raise CheckFailed(
            f"{NAME}: no gradient flows to m and v. Use the reparameterisation trick, z = m + sqrt(v) * eps with "
            "eps ~ N(0, I) (torch.normal(m, std) and Normal(...).sample() do not pass gradients)."
        )
    gm, gv = r.get(GRAD_M), r.get(GRAD_V)
    if gm is None or not torch.allclose(gm, torch.ones(3, dtype=torch.float64), atol=1e-6):
        raise CheckFailed(
            f"{NAME}: no gradient flows to m as it should (d E[z] / dm must be 1). Use the reparameterisation trick, "
            "z = m + sqrt(v) * eps with eps ~ N(0, I); torch.normal(m, std) and Normal(...).sample() do not pass "
            "gradients."
        )
    # E[z²] = m² + v, so its derivative with respect to v is 1: only a pathwise sample gives that.
    if gv is None or ((gv - 1).abs() > 8 * math.sqrt(2.0 / n) * (1 + m.abs() / v.sqrt())).any():
        raise CheckFailed(
            f"{NAME}: d E[z²] / dv must be 1; got {None if gv is None else gv.tolist()}. The noise must enter as "
            "sqrt(v) * eps, with the gradient flowing to the variance (no .detach() of sqrt(v))."
        )


def check_sample_gaussian_statistics(sample_gaussian: Callable, n: int = 100_000, dtype=torch.float64) -> int:
    """Check moments, broadcasting, the zero-variance limit and pathwise gradients of a sampler
    (observed and judged in one process; the grader's hidden test)."""
    # The hidden test checks the random state on its own.
    judge_sample_gaussian(observe_sample_gaussian(sample_gaussian, n=n, dtype=dtype, random_state=False))
    return 6


def sample_gaussian_check() -> Check:
    return Check("01_vae/sample_gaussian", observe_sample_gaussian, verdict=judge_sample_gaussian, reported=6)


def check_sample_gaussian(sample_gaussian: Callable) -> None:
    """Visible check: the random state, moments, the zero-variance limit, gradients, broadcasting, fresh noise."""
    run_check(sample_gaussian_check(), sample_gaussian)


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


def log_normal_check() -> Check:
    return cases_check(
        "01_vae/log_normal",
        log_normal_cases,
        "Small differences like this come from an epsilon added to v or an approximate constant for log(2π).",
        otherwise="Sum over the last dimension (dim=-1), whatever the number of leading dimensions.",
    )


def kl_normal_check() -> Check:
    return cases_check(
        "01_vae/kl_normal",
        kl_normal_cases,
        "Small differences like this come from an epsilon added to a variance or inside a log.",
        otherwise="kl_normal is the analytic (closed form) KL between two diagonal Gaussians, not an estimate from a "
        "sample.",
    )


def log_bernoulli_check() -> Check:
    return cases_check(
        "01_vae/log_bernoulli_with_logits",
        log_bernoulli_cases,
        "Small differences like this come from an epsilon or a clamp inside a log: compute the log-probability from "
        "the logits directly (F.binary_cross_entropy_with_logits or F.logsigmoid).",
    )


def check_log_normal(log_normal: Callable) -> None:
    run_check(log_normal_check(), log_normal)


def check_kl_normal(kl_normal: Callable) -> None:
    run_check(kl_normal_check(), kl_normal)


def check_log_bernoulli_with_logits(log_bernoulli_with_logits: Callable) -> None:
    run_check(log_bernoulli_check(), log_bernoulli_with_logits)


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


def vae_check() -> Check:
    return Check("01_vae/negative_elbo_bound", vae_probe(), _vae_hints)


def check_negative_elbo_bound(negative_elbo_bound: Callable) -> None:
    """Visible check of the VAE's ``negative_elbo_bound``."""
    run_check(vae_check(), negative_elbo_bound)
