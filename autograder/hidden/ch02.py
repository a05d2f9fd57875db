"""Hidden tests of Chapter 2 (GMVAE): log_normal_mixture and negative_elbo_bound."""

from __future__ import annotations

import copy

import torch

from vaelab import reference as objectives
from vaelab import reference as ref
from vaelab.models import GMVAE
from vaelab.reference.checks import (
    REFERENCE_HELPERS,
    Case,
    check_gmvae_far_prior,
    check_gmvae_negative_elbo_bound,
    check_keeps_global_rng,
    check_log_normal_mixture_cases,
    narrow_posteriors,
    spread_prior,
    substituted,
)

from . import _g, _pos, _randn, judge_all, refuse_reference


def _near_one_component(b, k, z_dim, seed, variance, dtype=torch.float32):
    """Points next to component 0 of a mixture whose components all have a tiny variance:
    the log-density of the closest component is large and positive (exp overflows in float32)."""
    m = _randn(1, k, z_dim, seed=seed, dtype=dtype, scale=3.0)
    v = torch.full((1, k, z_dim), variance, dtype=dtype)
    z = m[0, :1] + variance**0.5 * _randn(b, z_dim, seed=seed + 1, dtype=dtype)
    return z, m, v


def test_log_normal_mixture(log_normal_mixture):
    refuse_reference(
        log_normal_mixture,
        "log_normal_mixture",
        ref.log_normal_mixture,
        torch.zeros(2, 3),
        torch.zeros(1, 4, 3),
        torch.ones(1, 4, 3),
    )
    cases = []
    for dtype in (torch.float32, torch.float64):
        name = str(dtype).replace("torch.", "")
        cases += [
            Case(
                f"z (5, 3) against K = 4 components (1, 4, 3), {name}",
                (
                    _randn(5, 3, seed=1, dtype=dtype),
                    _randn(1, 4, 3, seed=2, dtype=dtype),
                    _pos(1, 4, 3, seed=3, dtype=dtype),
                ),
            ),
            Case(
                f"z (100, 10) against K = 500 components (1, 500, 10), {name}",
                (
                    _randn(100, 10, seed=4, dtype=dtype),
                    _randn(1, 500, 10, seed=5, dtype=dtype, scale=0.5),
                    _pos(1, 500, 10, seed=6, dtype=dtype),
                ),
            ),
            Case(
                f"points far from every component (log-densities near -5000), {name}",
                (
                    60.0 + _randn(6, 3, seed=7, dtype=dtype),
                    _randn(1, 5, 3, seed=8, dtype=dtype),
                    _pos(1, 5, 3, seed=9, dtype=dtype),
                ),
            ),
        ]
    cases += [
        Case(
            "a single point (B = 1) against K = 3 components",
            (_randn(1, 4, seed=10), _randn(1, 3, 4, seed=11), _pos(1, 3, 4, seed=12)),
        ),
        Case(
            "a single component (K = 1): the mixture is that Gaussian",
            (_randn(7, 2, seed=13), _randn(1, 1, 2, seed=14), _pos(1, 1, 2, seed=15)),
        ),
        Case("one latent dimension (Z = 1)", (_randn(9, 1, seed=16), _randn(1, 6, 1, seed=17), _pos(1, 6, 1, seed=18))),
        Case(
            "K = 2 identical components: the mixture is one Gaussian",
            (
                _randn(5, 3, seed=19),
                _randn(1, 1, 3, seed=20).expand(1, 2, 3).clone(),
                _pos(1, 1, 3, seed=21).expand(1, 2, 3).clone(),
            ),
        ),
        Case(
            "components of very different widths (variances 1e-3 to 1e3)",
            (
                _randn(8, 3, seed=22, scale=3.0),
                _randn(1, 4, 3, seed=23),
                torch.tensor([1e-3, 1e-1, 1e1, 1e3]).reshape(1, 4, 1).expand(1, 4, 3).clone(),
            ),
        ),
        Case(
            "points next to a narrow component (log-densities near +160: exp overflows in float32)",
            _near_one_component(4, 5, 20, seed=24, variance=1e-8),
            grad=False,
        ),
        Case(
            "points between two far-apart components",
            (
                torch.tensor([[0.0, 0.0], [49.0, 0.0], [-30.0, 1.0]]),
                torch.tensor([[[-50.0, 0.0], [50.0, 0.0]]]),
                torch.ones(1, 2, 2),
            ),
        ),
    ]
    check_log_normal_mixture_cases(log_normal_mixture, cases)


def _model(seed, dtype=torch.float32, **sizes):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = GMVAE(**sizes)
    spread_prior(model, seed=seed + 1)
    narrow_posteriors(model)
    return model.to(dtype)


def test_negative_elbo_bound(negative_elbo_bound):
    with torch.random.fork_rng():
        torch.manual_seed(11)
        model = _model(5, z_dim=4, k=7, x_dim=30, hidden=24)
        x = torch.bernoulli(torch.full((80, 30), 0.3), generator=_g(3))
        refuse_reference(negative_elbo_bound, "negative_elbo_bound", objectives.gmvae_negative_elbo_bound, model, x)
        # Graded on its own: the notebook's helpers are replaced by the references while it runs.
        with substituted(negative_elbo_bound, **REFERENCE_HELPERS):
            check_keeps_global_rng(negative_elbo_bound, "negative_elbo_bound", (model, x))
            check_gmvae_negative_elbo_bound(negative_elbo_bound, model=model, x=x, n_calls=40)
            check_gmvae_far_prior(negative_elbo_bound, model, x)
            # float64 models and data
            model64 = copy.deepcopy(model).double()
            check_gmvae_negative_elbo_bound(negative_elbo_bound, model=model64, x=x.double(), n_calls=10)
            # the chapter's model: 784 pixels, z = 10, K = 500, as initialised (components near 0)
            with torch.random.fork_rng():
                torch.manual_seed(6)
                big = GMVAE()
            xb = torch.bernoulli(torch.full((32, 784), 0.2), generator=_g(4))
            check_gmvae_negative_elbo_bound(negative_elbo_bound, model=big, x=xb, n_calls=10)


judge_all(globals())
