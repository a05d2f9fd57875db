"""Visible checks of chapter 3 (IWAE): ``duplicate``, ``log_mean_exp`` and ``negative_iwae_bound``."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .engine import Case, CheckFailed, _g, _randn
from .graded import Check, run_check
from .objective import ObjectiveProbe, ratio_hint
from .probes import QuadraticPrior, narrow_posteriors, seeded
from .pure import cases_check

__all__ = ["check_duplicate", "check_log_mean_exp", "check_negative_iwae_bound", "iwae_probe"]


def duplicate_cases() -> list[Case]:
    return [
        Case("x of shape (3, 4), rep = 2", (_randn(3, 4, seed=1), 2)),
        Case("x of shape (2, 5), rep = 3", (_randn(2, 5, seed=2), 3)),
        Case("rep = 1 (a copy of x)", (_randn(4, 2, seed=3), 1)),
        Case("float64 x of shape (3, 2), rep = 2", (_randn(3, 2, seed=4, dtype=torch.float64), 2)),
    ]


def log_mean_exp_cases() -> list[Case]:
    return [
        Case("x of shape (4, 3), dim = 0", (_randn(4, 3, seed=1), 0)),
        Case("x of shape (3, 5), dim = -1", (_randn(3, 5, seed=2), -1)),
        Case("log-weights near -500 (exp underflows to 0)", (_randn(5, 3, seed=3) - 500.0, 0)),
        Case("log-weights near +500 (exp overflows to inf)", (_randn(3, 4, seed=4) + 500.0, 1)),
        Case("values near +800 (exp overflows to inf in float64 too)", (_randn(4, 6, seed=5, scale=5.0) + 800.0, 1)),
        Case("a spread of 10^4 between the values", (torch.tensor([[0.0, -1e4, -5e3], [1e4, -1e4, 2.0]]), 1)),
        Case("float64 values near -1e4", (_randn(5, 3, seed=6, dtype=torch.float64) - 1e4, 0)),
        Case("x of shape (3, 1) (another axis of size 1), dim = 0", (_randn(3, 1, seed=7), 0)),
    ]


def duplicate_check() -> Check:
    return cases_check("03_iwae/duplicate", duplicate_cases)


def log_mean_exp_check() -> Check:
    return cases_check(
        "03_iwae/log_mean_exp",
        log_mean_exp_cases,
        "Small differences like this come from an epsilon inside the log or an approximate log(n).",
    )


def check_duplicate(duplicate: Callable) -> None:
    """Visible check of ``duplicate``: shape, order of the copies (repetition-major), gradients."""
    run_check(duplicate_check(), duplicate)


def check_log_mean_exp(log_mean_exp: Callable) -> None:
    """Visible check of ``log_mean_exp``: dimensions, large values, gradients."""
    run_check(log_mean_exp_check(), log_mean_exp)


IWS = (1, 4, 16)


def _iwae_inputs():
    from ..models import VAE

    model = seeded(lambda: VAE(z_dim=2, x_dim=20, hidden=16))
    narrow_posteriors(model, shift=-1.0)
    x = torch.bernoulli(torch.full((32, 20), 0.3, dtype=torch.float32), generator=_g(2))
    return QuadraticPrior(model), x


def _ordered(name, args, out) -> None:
    niwae, kl, rec = out
    if args[2] == 1 and not torch.allclose(niwae.detach().double(), (rec + kl).detach().double(), rtol=1e-4, atol=1e-4):
        raise CheckFailed(
            f"{name}: with iw = 1 the bound is the ELBO, so niwae ({niwae.item():.5g}) must equal rec + kl "
            f"({(rec + kl).item():.5g}) at the same sample. Check the log-weight, log w = log p(x|z) + log p(z) - "
            "log q(z|x) (the prior's log p(z) = model.log_prior(z), and log q(z|x)), the sign of kl = mean of "
            "log q(z|x) - log p(z), and that the log-mean-exp runs over the dimension of the iw samples."
        )


def iwae_probe(n_calls: int = 40) -> ObjectiveProbe:
    """The IWAE bound for iw = 1, 4, 16: the means of the three outputs, and the gradient on average."""
    return ObjectiveProbe(
        name="negative_iwae_bound",
        outputs=("niwae", "kl", "rec"),
        inputs=_iwae_inputs,
        calls=lambda model, x: [],
        limit_args=lambda model, x: (model, x, 4),
        limit_random=("niwae", "kl", "rec"),
        sample_calls=lambda model, x: [((model, x, iw), f"iw = {iw}") for iw in IWS],
        sampled=("niwae", "kl", "rec"),
        n_calls=n_calls,
        gradient_samples=True,
        consistency=_ordered,
        extra=[_chapter_sized],
    )


BIG = "niwae with the chapter's 784-pixel images (log-weights near -540), its mean over 10 calls"


def _chapter_sized(probe: ObjectiveProbe, fn: Callable, inputs: tuple, obs) -> None:
    """The bound of the chapter's VAE on 784-pixel images: the log-weights are hundreds of nats below 0,
    so exp of them underflows to 0 and log(mean(exp(.))) to log(0)."""
    from ..models import VAE

    model = seeded(lambda: VAE(), seed=3)
    x = torch.bernoulli(torch.full((8, 784), 0.2, dtype=torch.float32), generator=_g(4))
    draws = []
    with torch.random.fork_rng():
        torch.manual_seed(probe.seed)
        for _ in range(10):
            draws.append(probe._call(fn, (model, x, 4))[0].item())
    obs.samples[BIG] = torch.tensor(draws, dtype=torch.float64)


def _iwae_hints(where, got, want) -> str:
    g = got.samples.get(where)
    if where == BIG and g is not None and not torch.isfinite(g).all():
        return (
            "niwae is inf or nan on real images: exp of log-weights near -540 underflows to 0, so "
            "log(mean(exp(log w))) is log(0). Average the weights in log space with a stable log-mean-exp "
            "(log_mean_exp, which subtracts the maximum)."
        )
    hint = ratio_hint(where, got, want, batch=32, last_dims={"rec": 20})
    if where == LIMIT_GRADIENT:
        # In the zero-variance limit a bound whose log-mean-exp mixes samples of several images has the
        # right value on average but not the right gradient: this is where that mistake shows first.
        hint += (
            " Or the log-weights are reshaped in the wrong order, so that one log-mean-exp mixes samples of "
            "several images: rows made with duplicate (repetition-major) reshape to (iw, B), rows made with "
            "repeat_interleave (image-major) to (B, iw)."
        )
    return hint


LIMIT_GRADIENT = "gradient of niwae in the zero-variance limit"


def check_negative_iwae_bound(negative_iwae_bound: Callable) -> None:
    """Visible check of ``negative_iwae_bound`` on a small VAE whose prior is not N(0, I)."""
    run_check(iwae_check(), negative_iwae_bound)


def iwae_check() -> Check:
    return Check("03_iwae/negative_iwae_bound", iwae_probe(), _iwae_hints)
