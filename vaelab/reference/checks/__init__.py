"""The instructor's full checks: a student's implementation against the reference (instructor only).

The autograder's hidden tests (many cases: shapes, broadcasting, float64, extreme values,
gradients, taps on the decoder) run these checks through :func:`check_against_reference`; the
catalogues of known mistakes below also give the visible checks (:mod:`vaelab.checks`) their
stored mistake outputs. When an output is wrong it is compared with a
catalogue of *known mistakes* (:data:`MISTAKES`), so that the message names the likely mistake
("off by a factor of 2: the 1/2 is missing") rather than only saying that two numbers differ.

Stochastic exercises (``sample_gaussian``, ``negative_elbo_bound``) are checked statistically or in
a deterministic limit, never by matching one random stream, so any valid use of the random number
generator passes.

Every check raises :class:`CheckFailed` (an ``AssertionError``) with the message, and returns the
number of cases that passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from vaelab import reference as ref
from vaelab.checks.engine import (  # noqa: F401  (the chapter modules import them from here)
    Case,
    CheckFailed,
    Mistake,
    _call,
    _check_gradients,
    _close,
    _describe,
    _g,
    _pos,
    _randn,
    _report,
    _require_gradient,
    _scalar,
    calls_reference,
    substituted,
)


def _diagnose(name: str, got: Any, expected: torch.Tensor, case: Case, mistakes: Iterable[Mistake]) -> str:
    for mistake in mistakes:
        try:
            wrong = mistake.impl(*case.args)
        except Exception:
            continue
        if _close(got, wrong) and not _close(wrong, expected):
            return f"{name} on {case.description}: {mistake.message}"
    if not isinstance(got, torch.Tensor):
        return (
            f"{name} on {case.description} returned {type(got).__name__}, expected a torch.Tensor of shape "
            f"{tuple(expected.shape)}."
        )
    if got.shape != expected.shape:
        hint = ""
        if got.dim() == expected.dim() + 1:
            hint = " Did you forget to sum over the last dimension?"
        elif got.dim() == 0 and expected.dim() > 0:
            hint = " Did you sum or average over the batch too? Keep the batch dimensions."
        return (
            f"{name} on {case.description} returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}.{hint}"
        )
    if not torch.isfinite(got).all() and torch.isfinite(expected).all():
        return (
            f"{name} on {case.description} returned inf or nan where the answer is finite: the computation is "
            "numerically unstable (avoid log(sigmoid(.)), log(sum(exp(.))) and clamping; use logsumexp, softplus "
            "or binary_cross_entropy_with_logits)."
        )
    err = (got.detach().double() - expected.detach().double()).abs().max().item()
    ratio = ""
    g, e = got.detach().double().flatten(), expected.detach().double().flatten()
    if (e.abs() > 1e-6).all():
        r = g / e
        if torch.allclose(r, r[0].expand_as(r), rtol=1e-3) and abs(r[0].item() - 1) > 1e-3:
            ratio = (
                f" Every value is {r[0].item():.4g} times the expected one: look for a missing or extra "
                "constant factor."
            )
    near = ""
    rel = err / (expected.detach().double().abs().max().item() + 1e-12)
    if not ratio and rel < 1e-2 and name in NEAR_MISS_HINTS:
        near = " " + NEAR_MISS_HINTS[name]
    return (
        f"{name} on {case.description}: values differ from the expected ones (largest difference "
        f"{err:.3g}).{ratio}{near}"
    )


def check_against_reference(
    student: Callable,
    name: str,
    reference: Callable,
    cases: Iterable[Case],
    mistakes: Iterable[Mistake] = (),
    verbose: bool = False,
) -> int:
    """Compare ``student`` with ``reference`` on every case: type, shape, values, and gradients.

    Raises :class:`CheckFailed` with a message naming the likely mistake; returns the number of cases.
    """
    mistakes = list(mistakes)
    n = 0
    for case in cases:
        args = tuple(
            a.detach().clone().requires_grad_(case.grad and a.is_floating_point()) if isinstance(a, torch.Tensor) else a
            for a in case.args
        )
        case = Case(case.description, args, case.grad)
        expected = reference(*args)
        got = _call(student, name, args)
        if not _close(got, expected):
            raise CheckFailed(_diagnose(name, got, expected, case, mistakes))
        if case.grad:
            _check_gradients(name, got, expected, case)
        n += 1
        if verbose:
            print(f"  ok  {name} on {case.description}")
    return n


#: The reference helpers that later exercises may call, by their exercise names.
REFERENCE_HELPERS = {
    "sample_gaussian": ref.sample_gaussian,
    "log_normal": ref.log_normal,
    "kl_normal": ref.kl_normal,
    "log_bernoulli_with_logits": ref.log_bernoulli_with_logits,
    "log_normal_mixture": ref.log_normal_mixture,
    "duplicate": ref.duplicate,
    "log_mean_exp": ref.log_mean_exp,
    "kl_cat": ref.kl_cat,
}


def check_on_its_own(check: Callable[[], Any], fn: Callable, name: str) -> Any:
    """Run a visible ``check`` of ``fn``; if it fails only because of the student's helpers,
    say so without failing.

    The check runs first with the notebook's own helpers (what training will use). If it fails,
    it runs again with the reference helpers: when it passes then, ``fn`` itself is right and the
    message points at the helper to fix, so that the graded cell of ``fn`` keeps its points.
    """
    try:
        return check()
    except CheckFailed as own:
        with substituted(fn, **REFERENCE_HELPERS):
            result = check()  # raises if fn itself is wrong
        print(
            f"⚠ {name} is right when it calls the reference helpers, but fails with the helpers of this "
            f"notebook: {own}\n  Fix the helper functions above (their checks say which) before training."
        )
        return result


# The chapter modules import the comparison above from this package, so they come after it.
from . import ch01, ch02, ch03, ch04, ch05  # noqa: E402

CHAPTERS = (ch01, ch02, ch03, ch04, ch05)
#: Known mistakes by exercise name: the chapters' catalogues, merged.
MISTAKES: dict[str, list[Mistake]] = {
    name: m for module in CHAPTERS for name, m in getattr(module, "MISTAKES", {}).items()
}
#: Appended to a "values differ" message when the error is small relative to the values.
NEAR_MISS_HINTS: dict[str, str] = {
    name: hint for module in CHAPTERS for name, hint in getattr(module, "NEAR_MISS_HINTS", {}).items()
}
# The chapters' full checks, for the hidden tests: ``from vaelab.reference.checks import ...``.
for _module in CHAPTERS:
    globals().update({name: getattr(_module, name) for name in _module.__all__})
