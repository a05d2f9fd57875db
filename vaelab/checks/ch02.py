"""Visible checks of chapter 2 (GMVAE): ``log_normal_mixture`` and the GMVAE's ``negative_elbo_bound``."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch

from .engine import Case, CheckFailed, _g, _pos, _randn
from .graded import Check, run_check
from .objective import ObjectiveProbe, ratio_hint, standard_noise
from .probes import DecoderTap, TinyVariance, batched, narrow_posteriors, seeded, spread_prior
from .pure import cases_check

__all__ = ["check_log_normal_mixture", "check_gmvae_elbo", "gmvae_probe"]


def log_normal_mixture_cases() -> list[Case]:
    return [
        Case(
            "z (4, 3) against K = 5 components m, v (1, 5, 3)",
            (_randn(4, 3, seed=1), _randn(1, 5, 3, seed=2), _pos(1, 5, 3, seed=3)),
        ),
        Case(
            "a single component (K = 1): the mixture is that Gaussian",
            (_randn(6, 2, seed=4), _randn(1, 1, 2, seed=5), _pos(1, 1, 2, seed=6)),
        ),
        Case(
            "points far from every component (log-densities near -5000)",
            (60.0 + _randn(4, 3, seed=20), _randn(1, 5, 3, seed=21), _pos(1, 5, 3, seed=22)),
        ),
        Case(
            "z (8, 10) against K = 500 components (the chapter's sizes)",
            (_randn(8, 10, seed=7), 0.3 * _randn(1, 500, 10, seed=8), _pos(1, 500, 10, seed=9)),
        ),
        Case(
            "points next to a narrow component (variances 1e-8: log-densities near +160, exp overflows in float32)",
            _near_one_component(4, 5, 20, seed=24, variance=1e-8),
            grad=False,
        ),
    ]


def _near_one_component(b: int, k: int, z_dim: int, seed: int, variance: float):
    """Points next to component 0 of a mixture whose components all have the variance ``variance``."""
    m = _randn(1, k, z_dim, seed=seed, scale=3.0)
    v = torch.full((1, k, z_dim), variance, dtype=torch.float32)
    return m[0, :1] + variance**0.5 * _randn(b, z_dim, seed=seed + 1), m, v


def log_normal_mixture_check() -> Check:
    return cases_check(
        "02_gmvae/log_normal_mixture",
        log_normal_mixture_cases,
        "Small differences like this come from an epsilon or from log(K) computed approximately.",
    )


def check_log_normal_mixture(log_normal_mixture: Callable) -> None:
    """Visible check: small mixtures, a single component, far points, the chapter's sizes."""
    run_check(log_normal_mixture_check(), log_normal_mixture)


def _gmvae_inputs():
    from ..models import GMVAE

    model = seeded(lambda: GMVAE(z_dim=3, k=6, x_dim=20, hidden=16))
    spread_prior(model, seed=1)  # components away from N(0, I): the analytic KL to N(0, I) stands out
    narrow_posteriors(model)
    x = torch.bernoulli(torch.full((64, 20), 0.3, dtype=torch.float32), generator=_g(2))
    return model, x


def gmvae_probe(n_calls: int = 30) -> ObjectiveProbe:
    """The GMVAE's objective: the limit (rec and the gradient), the means of rec and kl, the noise."""
    return ObjectiveProbe(
        name="negative_elbo_bound",
        outputs=("nelbo", "kl", "rec"),
        inputs=_gmvae_inputs,
        calls=lambda model, x: [],
        limit_args=lambda model, x: (model, x),
        limit_random=("nelbo", "kl"),
        sampled=("rec", "kl"),
        n_calls=n_calls,
        consistency=_sum_of_terms,
        extra=[standard_noise, _kl_at_decoded_z],
    )


SAME_Z = "kl + |eps|²/2 at the decoded z = m + sqrt(v) eps, in the zero-variance limit"
FAR = SAME_Z + ", every component far from the codes"
OVERLAP = (
    "kl - mean(1.5 |eps|² - Z log 2) at the decoded codes, every component at q's mean with a quarter of its variance"
)


def _kl_at_decoded_z(probe: ObjectiveProbe, fn: Callable, inputs: tuple, obs) -> None:
    """Whether ``kl`` is log q(z|x) - log p(z) at the very z that was decoded, observed without the reference.

    In the zero-variance limit (float64) z is the encoder mean up to ``sqrt(v) eps``, so log p(z) and the
    normalising constant of q are deterministic and log q(z|x) varies only as -|eps|²/2, with ``eps`` the
    decoded code's noise (read by a tap). ``kl + mean |eps|²/2`` is then deterministic for a right answer,
    but not for a KL estimated at a second sample or with the entropy in closed form. Also with every
    mixture component far away, where log(mean(exp(.))) of the components underflows.
    """
    for label, shift in ((SAME_Z, 0.0), (FAR, 40.0)):
        model, x = (copy.deepcopy(a) for a in inputs)
        model.double()
        with torch.no_grad():
            model.z_pre[:, : model.k].add_(shift)
        limit = TinyVariance(model)
        x = x.double()
        with torch.no_grad():
            qm, qv = limit.encode(x)
        with torch.random.fork_rng(), DecoderTap(model) as tap:
            torch.manual_seed(probe.seed)
            kl = probe._call(fn, (limit, x))[1].detach()
        codes = [z.detach()[..., : qm.shape[-1]] for z in batched(tap.inputs, qm.shape[0]) if z.numel() == qm.numel()]
        if not codes:
            raise CheckFailed(
                f"{probe.name} never decoded codes z of the encoder's shape {tuple(qm.shape)}: decode the sample "
                "z ~ q(z|x) with model.decode(z)."
            )
        eps = (codes[0].reshape(qm.shape) - qm) / qv.sqrt()
        obs.values[label] = kl + 0.5 * eps.pow(2).sum(-1).mean()
    _kl_where_estimates_go_negative(probe, fn, inputs, obs)


def _kl_where_estimates_go_negative(probe: ObjectiveProbe, fn: Callable, inputs: tuple, obs) -> None:
    """``kl`` at the real variance where many one-sample estimates are negative, observed exactly.

    One image repeated; every component of the prior sits at its posterior mean m with variance v / 4. Then
    log q(z|x) - log p(z) = sum over Z of (1.5 eps² - log 2) at z = m + sqrt(v) eps, negative for about a
    quarter of the draws (Z = 3): an answer that clamps the estimates at 0, or drops the negative ones,
    differs from it at the very codes it decoded.
    """
    model, x = (copy.deepcopy(a) for a in inputs)
    model.double()
    x = x[:1].expand(64, -1).double()
    with torch.no_grad():
        post_m, post_v = model.encode(x)  # the same row 64 times
        centre, pre_v = post_m[:1].expand(model.k, -1), torch.log(torch.expm1(post_v[:1] / 4)).expand(model.k, -1)
        model.z_pre.copy_(torch.cat([centre, pre_v])[None])
    with torch.random.fork_rng(), DecoderTap(model) as tap:
        torch.manual_seed(probe.seed + 2)
        kl = probe._call(fn, (model, x))[1].detach()
    rows, width = post_m.shape
    codes = [c.detach()[..., :width] for c in batched(tap.inputs, rows) if c.numel() == post_m.numel()]
    if codes:
        noise = (codes[0].reshape(post_m.shape) - post_m) / post_v.sqrt()
        obs.values[OVERLAP] = kl - (1.5 * noise.pow(2) - math.log(2)).sum(-1).mean()


def _sum_of_terms(name, args, out) -> None:
    nelbo, kl, rec = out
    if not torch.allclose(nelbo.detach().double(), (rec + kl).detach().double(), rtol=1e-5, atol=1e-5):
        raise CheckFailed(f"{name}: nelbo ({nelbo.item():.5g}) must equal rec + kl ({(rec + kl).item():.5g}).")


def _gmvae_hints(where, got, want) -> str:
    g = got.values.get(where)
    if where in (SAME_Z, FAR) and g is not None and not torch.isfinite(g).all():
        return (
            "kl is inf or nan when the codes are far from every component: log(mean(exp(.))) (or log(sum(exp(.)))) "
            "of the components' log-densities underflows to log(0). Combine them with torch.logsumexp "
            "(log_normal_mixture), which is stable."
        )
    if where in (SAME_Z, FAR):
        return (
            "kl must be the Monte Carlo estimate log q(z|x) - log p(z) at the same z that was decoded, with p the "
            "mixture prior of model.prior() (log_normal_mixture): not at a second sample, not with the entropy of q "
            "in closed form in place of log q(z|x), and not an analytic KL (the KL to a mixture has no closed form)."
        )
    return ratio_hint(where, got, want, batch=64, last_dims={"rec": 20})


def check_gmvae_elbo(negative_elbo_bound: Callable) -> None:
    """Visible check of the GMVAE's ``negative_elbo_bound``."""
    run_check(gmvae_check(), negative_elbo_bound)


def gmvae_check() -> Check:
    return Check("02_gmvae/negative_elbo_bound", gmvae_probe(), _gmvae_hints)
