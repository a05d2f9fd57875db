"""Hidden tests of Chapter 3 (IWAE): duplicate, log_mean_exp and negative_iwae_bound."""

from __future__ import annotations

import copy

import torch

from vaelab import reference as objectives
from vaelab import reference as ref
from vaelab.checks.probes import narrow_posteriors
from vaelab.reference.checks import (
    REFERENCE_HELPERS,
    Case,
    check_decoded_noise,
    check_duplicate_cases,
    check_gradient_at_codes,
    check_iwae_bound,
    check_keeps_global_rng,
    check_log_mean_exp_cases,
    substituted,
)
from vaelab.reference.checks.ch03 import check_independent_samples, iwae_bound_at, statistical_models

from . import _g, _randn, judge_all, refuse_reference


def test_duplicate(duplicate):
    refuse_reference(duplicate, "duplicate", ref.duplicate, torch.zeros(2, 3), 2)
    cases = []
    for dtype in (torch.float32, torch.float64):
        cases += [
            Case(f"x of shape (5, 7) {dtype}, rep = 4", (_randn(5, 7, seed=1, dtype=dtype), 4)),
            Case(f"x of shape (3, 2) {dtype}, rep = 1", (_randn(3, 2, seed=2, dtype=dtype), 1)),
        ]
    cases += [
        Case("a batch of MNIST-sized rows (4, 784), rep = 10", (_randn(4, 784, seed=3), 10)),
        Case("a single example (1, 6), rep = 5", (_randn(1, 6, seed=4), 5)),
        Case("encoder variances (6, 10), rep = 3", (torch.rand(6, 10, generator=_g(5)) + 0.1, 3)),
        Case("many copies of a small batch (2, 3), rep = 50", (_randn(2, 3, seed=6), 50)),
        Case("an integer tensor (4, 3), rep = 3", (torch.arange(12).reshape(4, 3), 3)),
    ]
    check_duplicate_cases(duplicate, cases)


def test_log_mean_exp(log_mean_exp):
    refuse_reference(log_mean_exp, "log_mean_exp", ref.log_mean_exp, torch.zeros(2, 3), 0)
    cases = []
    for dtype in (torch.float32, torch.float64):
        x = _randn(7, 5, seed=1, dtype=dtype, scale=3.0)
        cases += [
            Case(f"x of shape (7, 5) {dtype}, dim = 0", (x, 0)),
            Case(f"x of shape (7, 5) {dtype}, dim = 1", (x, 1)),
            Case(f"x of shape (7, 5) {dtype}, dim = -1", (x, -1)),
            Case(f"x of shape (7, 5) {dtype}, dim = -2", (x, -2)),
        ]
    x3 = _randn(3, 4, 6, seed=2, scale=2.0)
    cases += [
        Case("x of shape (3, 4, 6), dim = 1", (x3, 1)),
        Case("x of shape (3, 4, 6), dim = 2", (x3, 2)),
        Case("x of shape (3, 4, 6), dim = -3", (x3, -3)),
        Case("a square (6, 6), dim = 0", (_randn(6, 6, seed=3), 0)),
        Case("a square (6, 6), dim = 1", (_randn(6, 6, seed=3), 1)),
        Case("a single sample per column (1, 5), dim = 0", (_randn(1, 5, seed=4), 0)),
        Case("a vector (8,), dim = 0", (_randn(8, seed=5), 0)),
        Case("image log-weights near -550 (exp underflows to 0)", (_randn(10, 4, seed=6, scale=5.0) - 550.0, 0)),
        Case("values near +800 (exp overflows to inf)", (_randn(4, 10, seed=7, scale=5.0) + 800.0, 1)),
        Case("a spread of 10^4 between the values", (torch.tensor([[0.0, -1e4, -5e3], [1e4, -1e4, 2.0]]), 1)),
        Case("float64 values near -1e4", (_randn(5, 3, seed=8, dtype=torch.float64) - 1e4, 0)),
    ]
    cases += [  # other axes of size 1, last: a squeeze() that drops them shows only here
        Case("x of shape (3, 1) (another axis of size 1), dim = 0", (_randn(3, 1, seed=9), 0)),
        Case("x of shape (1, 4, 1), dim = 1", (_randn(1, 4, 1, seed=10), 1)),
    ]
    check_log_mean_exp_cases(log_mean_exp, cases)


def test_negative_iwae_bound(negative_iwae_bound):
    from vaelab.models import VAE

    with torch.random.fork_rng():
        torch.manual_seed(11)
        model = VAE(z_dim=2, x_dim=20, hidden=8)
        x = torch.bernoulli(torch.full((6, 20), 0.3), generator=_g(3))
        refuse_reference(negative_iwae_bound, "negative_iwae_bound", objectives.negative_iwae_bound, model, x, 3)
        # Graded on its own: the notebook's helpers (duplicate, log_mean_exp, ...) are replaced by
        # the references while it runs, so their mistakes cost only their own points.
        with substituted(negative_iwae_bound, **REFERENCE_HELPERS):
            check_keeps_global_rng(negative_iwae_bound, "negative_iwae_bound", (model, x, 3))
            narrow = copy.deepcopy(model)
            narrow_posteriors(narrow)  # variances near 0.1: a sample scaled by v or by 1 stands out
            check_decoded_noise("negative_iwae_bound", negative_iwae_bound, (narrow, x, 4), narrow, (x,), n_calls=10)
            check_independent_samples(negative_iwae_bound, model, x, 4)
            check_iwae_bound(negative_iwae_bound, n_calls=30, iws=(1, 3, 10), seed=0, big=True)
            vae, gmvae, xs = statistical_models(seed=1)
            for m_ in (vae, gmvae):  # the gradient at the codes it decodes, for a VAE and a GMVAE
                check_gradient_at_codes(
                    "negative_iwae_bound",
                    negative_iwae_bound,
                    (m_, xs[:20], 5),
                    m_,
                    (xs[:20],),
                    lambda m, v, eps, m_=m_: iwae_bound_at(m_, xs[:20], m, v, eps),
                    "niwae",
                )


judge_all(globals())
