"""Visible checks of chapter 2 (GMVAE): ``log_normal_mixture`` and the GMVAE's ``negative_elbo_bound``."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .engine import Case, _g, _pos, _randn
from .objective import ObjectiveProbe, ratio_hint, run_objective, standard_noise
from .probes import narrow_posteriors, seeded, spread_prior
from .pure import check_cases

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
    ]


def check_log_normal_mixture(log_normal_mixture: Callable) -> None:
    """Visible check: small mixtures, a single component, far points, the chapter's sizes."""
    check_cases(
        "02_gmvae/log_normal_mixture",
        log_normal_mixture,
        log_normal_mixture_cases(),
        "Small differences like this come from an epsilon or from log(K) computed approximately.",
    )


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
        extra=[standard_noise],
    )


def _sum_of_terms(name, args, out) -> None:
    from .engine import CheckFailed

    nelbo, kl, rec = out
    if not torch.allclose(nelbo.detach().double(), (rec + kl).detach().double(), rtol=1e-5, atol=1e-5):
        raise CheckFailed(f"{name}: nelbo ({nelbo.item():.5g}) must equal rec + kl ({(rec + kl).item():.5g}).")


def _gmvae_hints(where, got, want) -> str:
    return ratio_hint(where, got, want, batch=64, last_dims={"rec": 20})


def check_gmvae_elbo(negative_elbo_bound: Callable) -> None:
    """Visible check of the GMVAE's ``negative_elbo_bound``."""
    run_objective("02_gmvae/negative_elbo_bound", negative_elbo_bound, gmvae_probe(), _gmvae_hints)
