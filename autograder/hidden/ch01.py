"""Hidden tests of Chapter 1 (VAE): sample_gaussian, log_normal, kl_normal,
log_bernoulli_with_logits and negative_elbo_bound."""

from __future__ import annotations

import torch

from vaelab import reference as objectives
from vaelab import reference as ref
from vaelab.checks.ch01 import at_floor
from vaelab.models import VAE
from vaelab.reference.checks import (
    MISTAKES,
    REFERENCE_HELPERS,
    Case,
    check_against_reference,
    check_gradient_at_codes,
    check_keeps_global_rng,
    check_sample_gaussian_statistics,
    check_vae_bound_contracts,
    check_vae_negative_elbo_bound,
    substituted,
    vae_bound_at,
)

from . import _g, _pos, _randn, judge_all, refuse_reference


def test_sample_gaussian(sample_gaussian):
    m, v = torch.zeros(2, 3), torch.ones(2, 3)
    refuse_reference(sample_gaussian, "sample_gaussian", ref.sample_gaussian, m, v)
    check_keeps_global_rng(sample_gaussian, "sample_gaussian", (m, v))
    with torch.random.fork_rng():
        torch.manual_seed(2024)
        check_sample_gaussian_statistics(sample_gaussian, n=200_000, dtype=torch.float32)
        check_sample_gaussian_statistics(sample_gaussian, n=100_000, dtype=torch.float64)


def test_log_normal(log_normal):
    refuse_reference(log_normal, "log_normal", ref.log_normal, torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 3))
    cases = []
    for dtype in (torch.float32, torch.float64):
        cases += [
            Case(
                f"x, m, v of shape (7,) {dtype}",
                (_randn(7, seed=1, dtype=dtype), _randn(7, seed=2, dtype=dtype), _pos(7, seed=3, dtype=dtype)),
            ),
            Case(
                f"x, m, v of shape (16, 10) {dtype}",
                (
                    _randn(16, 10, seed=4, dtype=dtype),
                    _randn(16, 10, seed=5, dtype=dtype),
                    _pos(16, 10, seed=6, dtype=dtype),
                ),
            ),
            Case(
                f"a (3, 4, 5) batch {dtype}",
                (
                    _randn(3, 4, 5, seed=7, dtype=dtype),
                    _randn(3, 4, 5, seed=8, dtype=dtype),
                    _pos(3, 4, 5, seed=9, dtype=dtype),
                ),
            ),
        ]
    cases += [
        Case(
            "z (6, 1, 4) broadcast against components (1, 5, 4)",
            (_randn(6, 1, 4, seed=10), _randn(1, 5, 4, seed=11), _pos(1, 5, 4, seed=12)),
        ),
        Case(
            "a shared mean and variance (1, 4) for a (6, 4) batch",
            (_randn(6, 4, seed=13), _randn(1, 4, seed=14), _pos(1, 4, seed=15)),
        ),
        Case(
            "tiny variances (1e-6)",
            (
                _randn(5, 3, seed=16, dtype=torch.float64),
                _randn(5, 3, seed=17, dtype=torch.float64),
                torch.full((5, 3), 1e-6, dtype=torch.float64),
            ),
        ),
        Case("variances at the encoder's floor (1e-8), float64", at_floor(6, 3, seed=30)),
        Case(
            "large variances (1e4) and far points",
            (_randn(5, 3, seed=18, scale=100.0), _randn(5, 3, seed=19), torch.full((5, 3), 1e4)),
        ),
        Case(
            "one variance per example, shape (4, 1), shared by the Z = 6 coordinates",
            (_randn(4, 6, seed=31), _randn(4, 6, seed=32), _pos(4, 1, seed=33)),
        ),
        Case(
            "tiny variances (1e-5) over Z = 20 coordinates, float32 (their product underflows to 0)",
            (_randn(3, 20, seed=34, scale=1e-3), torch.zeros(3, 20), torch.full((3, 20), 1e-5)),
        ),
        Case(
            "large variances (1e5) over Z = 20 coordinates, float32 (their product overflows to inf)",
            (_randn(3, 20, seed=35, scale=100.0), torch.zeros(3, 20), torch.full((3, 20), 1e5)),
        ),
    ]
    check_against_reference(log_normal, "log_normal", ref.log_normal, cases, MISTAKES["log_normal"])


def test_kl_normal(kl_normal):
    refuse_reference(
        kl_normal, "kl_normal", ref.kl_normal, torch.zeros(2, 3), torch.ones(2, 3), torch.zeros(2, 3), torch.ones(2, 3)
    )
    cases = []
    for dtype in (torch.float32, torch.float64):
        cases += [
            Case(
                f"q and p of shape (10,) {dtype}",
                (
                    _randn(10, seed=1, dtype=dtype),
                    _pos(10, seed=2, dtype=dtype),
                    _randn(10, seed=3, dtype=dtype),
                    _pos(10, seed=4, dtype=dtype),
                ),
            ),
            Case(
                f"q and p of shape (32, 10) {dtype}",
                (
                    _randn(32, 10, seed=5, dtype=dtype),
                    _pos(32, 10, seed=6, dtype=dtype),
                    _randn(32, 10, seed=7, dtype=dtype),
                    _pos(32, 10, seed=8, dtype=dtype),
                ),
            ),
        ]
    cases += [
        Case(
            "q (8, 4) against the prior N(0, I) of shape (1, 4)",
            (_randn(8, 4, seed=9), _pos(8, 4, seed=10), torch.zeros(1, 4), torch.ones(1, 4)),
        ),
        Case(
            "a (2, 3, 4) batch against p of shape (4,)",
            (_randn(2, 3, 4, seed=11), _pos(2, 3, 4, seed=12), _randn(4, seed=13), _pos(4, seed=14)),
        ),
        Case(
            "q equal to p (KL = 0)",
            (_randn(5, 3, seed=15), _pos(5, 3, seed=16), _randn(5, 3, seed=15), _pos(5, 3, seed=16)),
        ),
        Case(
            "very narrow q (variance 1e-8)",
            (
                _randn(4, 3, seed=17, dtype=torch.float64),
                torch.full((4, 3), 1e-8, dtype=torch.float64),
                torch.zeros(1, 3, dtype=torch.float64),
                torch.ones(1, 3, dtype=torch.float64),
            ),
        ),
        Case(
            "very wide q (variance 1e3)",
            (_randn(4, 3, seed=18), torch.full((4, 3), 1e3), torch.zeros(1, 3), torch.ones(1, 3)),
        ),
    ]
    check_against_reference(kl_normal, "kl_normal", ref.kl_normal, cases, MISTAKES["kl_normal"])


def test_log_bernoulli_with_logits(log_bernoulli_with_logits):
    refuse_reference(
        log_bernoulli_with_logits,
        "log_bernoulli_with_logits",
        ref.log_bernoulli_with_logits,
        torch.zeros(2, 3),
        torch.zeros(2, 3),
    )

    def bern(*shape, seed, dtype=torch.float32):
        return torch.bernoulli(torch.full(shape, 0.4, dtype=dtype), generator=_g(seed))

    cases = []
    for dtype in (torch.float32, torch.float64):
        cases += [
            Case(
                f"x, logits of shape (784,) {dtype}",
                (bern(784, seed=1, dtype=dtype), _randn(784, seed=2, dtype=dtype, scale=3.0)),
            ),
            Case(
                f"x, logits of shape (16, 784) {dtype}",
                (bern(16, 784, seed=3, dtype=dtype), _randn(16, 784, seed=4, dtype=dtype, scale=3.0)),
            ),
        ]
    cases += [
        Case("a (2, 3, 8) batch", (bern(2, 3, 8, seed=5), _randn(2, 3, 8, seed=6))),
        Case(
            "large logits (±50) that agree with x",
            (torch.tensor([[1.0, 0.0, 1.0, 0.0]]), torch.tensor([[50.0, -50.0, 50.0, -50.0]])),
        ),
        Case(
            "large logits (±100) that disagree with x",
            (torch.tensor([[0.0, 1.0, 0.0, 1.0]]), torch.tensor([[100.0, -100.0, 30.0, -30.0]])),
        ),
        Case("grey levels x in (0, 1)", (torch.rand(6, 10, generator=_g(9)), _randn(6, 10, seed=10))),
    ]
    check_against_reference(
        log_bernoulli_with_logits,
        "log_bernoulli_with_logits",
        ref.log_bernoulli_with_logits,
        cases,
        MISTAKES["log_bernoulli_with_logits"],
    )


def test_negative_elbo_bound(negative_elbo_bound):
    with torch.random.fork_rng():
        torch.manual_seed(7)
        model = VAE(z_dim=4, x_dim=30, hidden=24)
        x = torch.bernoulli(torch.full((80, 30), 0.3), generator=_g(3))
        refuse_reference(negative_elbo_bound, "negative_elbo_bound", objectives.vae_negative_elbo_bound, model, x)
        # Graded on its own: the notebook's helpers are replaced by the references while it runs.
        with substituted(negative_elbo_bound, **REFERENCE_HELPERS):
            check_keeps_global_rng(negative_elbo_bound, "negative_elbo_bound", (model, x, 1.0))
            check_vae_negative_elbo_bound(negative_elbo_bound, model=model, x=x, betas=(1.0, 0.5, 4.0), n_calls=40)
            check_vae_bound_contracts(negative_elbo_bound, model, x)
            check_gradient_at_codes(
                "negative_elbo_bound",
                negative_elbo_bound,
                (model, x, 1.0),
                model,
                (x,),
                lambda m, v, eps: vae_bound_at(model, x, m, v, eps),
                "nelbo",
            )
            big = VAE()  # the chapter's model: 784 pixels, z = 10
            xb = torch.bernoulli(torch.full((32, 784), 0.2), generator=_g(4))
            check_vae_negative_elbo_bound(negative_elbo_bound, model=big, x=xb, betas=(1.0,), n_calls=10)


judge_all(globals())
