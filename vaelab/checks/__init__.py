"""Checks of a student's implementation against the reference, with feedback that teaches.

One mechanism serves the visible checks in the notebooks (a few cases, run by the student) and the
hidden tests of the autograder (many cases: shapes, broadcasting, float64, extreme values,
gradients): :func:`check_against_reference`. When an output is wrong it is compared with a
catalogue of *known mistakes* (:data:`MISTAKES`), so that the message names the likely mistake
("off by a factor of 2: the 1/2 is missing") rather than only saying that two numbers differ.

Stochastic exercises (``sample_gaussian``, ``negative_elbo_bound``) are checked statistically or in
a deterministic limit, never by matching one random stream, so any valid use of the random number
generator passes.

Every check raises :class:`CheckFailed` (an ``AssertionError``) with the message, and returns the
number of cases that passed.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F

from .. import reference as ref

#: Known mistakes by exercise name, filled by the chapter modules (``vaelab.checks.ch01``, ...).
MISTAKES: dict[str, list["Mistake"]] = {}
#: Appended to a "values differ" message when the error is small relative to the values.
NEAR_MISS_HINTS: dict[str, str] = {}


class CheckFailed(AssertionError):
    """A check found a wrong answer; the message says what and, where it can, why."""


@dataclass
class Case:
    """Inputs for one comparison: ``args`` are passed positionally to both implementations."""

    description: str
    args: tuple
    grad: bool = True  # also compare gradients with respect to the floating-point tensor arguments


@dataclass
class Mistake:
    """A known wrong implementation and the message that names it."""

    message: str
    impl: Callable


def _tol(t: torch.Tensor) -> tuple[float, float]:
    return (1e-4, 1e-4) if t.dtype == torch.float32 else (1e-7, 1e-7)


def _close(got: Any, expected: torch.Tensor, scale: float = 1.0) -> bool:
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return False
    rtol, atol = _tol(expected)
    got64, exp64 = got.detach().double(), expected.detach().double()
    same_inf = torch.isinf(exp64) & (got64 == exp64)
    ok = torch.isclose(got64, exp64, rtol=rtol * scale, atol=atol * scale) | same_inf
    return bool(ok.all())


def _describe(args: tuple) -> str:
    parts = []
    for a in args:
        if isinstance(a, torch.Tensor):
            parts.append(f"tensor{tuple(a.shape)} {str(a.dtype).replace('torch.', '')}")
        else:
            parts.append(repr(a))
    return "(" + ", ".join(parts) + ")"


def _call(fn: Callable, name: str, args: tuple):
    try:
        return fn(*args)
    except NotImplementedError:
        raise CheckFailed(f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.") from None
    except CheckFailed:
        raise
    except Exception as exc:  # the student's code raised: report it as feedback, with the inputs
        raise CheckFailed(f"{name}{_describe(args)} raised {type(exc).__name__}: {exc}") from exc


def _diagnose(name: str, got: Any, expected: torch.Tensor, case: Case, mistakes: Iterable[Mistake]) -> str:
    for mistake in mistakes:
        try:
            wrong = mistake.impl(*case.args)
        except Exception:
            continue
        if _close(got, wrong) and not _close(wrong, expected):
            return f"{name} on {case.description}: {mistake.message}"
    if not isinstance(got, torch.Tensor):
        return f"{name} on {case.description} returned {type(got).__name__}, expected a torch.Tensor of shape {tuple(expected.shape)}."
    if got.shape != expected.shape:
        hint = ""
        if got.dim() == expected.dim() + 1:
            hint = " Did you forget to sum over the last dimension?"
        elif got.dim() == 0 and expected.dim() > 0:
            hint = " Did you sum or average over the batch too? Keep the batch dimensions."
        return f"{name} on {case.description} returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}.{hint}"
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
            ratio = f" Every value is {r[0].item():.4g} times the expected one: look for a missing or extra constant factor."
    near = ""
    rel = err / (expected.detach().double().abs().max().item() + 1e-12)
    if not ratio and rel < 1e-2 and name in NEAR_MISS_HINTS:
        near = " " + NEAR_MISS_HINTS[name]
    return f"{name} on {case.description}: values differ from the expected ones (largest difference {err:.3g}).{ratio}{near}"


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
        args = tuple(a.detach().clone().requires_grad_(case.grad and a.is_floating_point()) if isinstance(a, torch.Tensor) else a for a in case.args)
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


def _require_gradient(module: torch.nn.Module, message: str) -> None:
    """Raises `CheckFailed(message)` unless a backward pass left a nonzero gradient on some
    parameter of `module` (and a gradient on every one)."""
    grads = [p.grad for p in module.parameters()]
    if any(g is None for g in grads) or all(float(g.abs().sum()) == 0 for g in grads):
        raise CheckFailed(message)


def _check_gradients(name: str, got: torch.Tensor, expected: torch.Tensor, case: Case) -> None:
    inputs = [a for a in case.args if isinstance(a, torch.Tensor) and a.requires_grad]
    if not inputs:
        return
    if not got.requires_grad:
        raise CheckFailed(
            f"{name} on {case.description}: the output does not depend on the inputs through autograd "
            "(no gradient). Avoid .detach(), .item(), numpy and torch.no_grad() inside the function."
        )
    weights = torch.linspace(0.5, 1.5, expected.numel(), dtype=expected.dtype).reshape(expected.shape)
    finite = torch.isfinite(expected)
    g_exp = torch.autograd.grad((expected * weights)[finite].sum(), inputs, allow_unused=True, retain_graph=True)
    g_got = torch.autograd.grad((got * weights)[finite].sum(), inputs, allow_unused=True, retain_graph=True)
    for i, (ge, gg) in enumerate(zip(g_exp, g_got)):
        ge = torch.zeros_like(inputs[i]) if ge is None else ge
        gg = torch.zeros_like(inputs[i]) if gg is None else gg
        if not _close(gg, ge, scale=10.0):
            raise CheckFailed(
                f"{name} on {case.description}: the values are right but the gradient with respect to argument "
                f"{i + 1} is wrong or not finite (largest difference {(gg - ge).abs().max().item():.3g}). "
                "An unstable formula (clamping, log of a sigmoid) often shows up here first."
            )


def calls_reference(student: Callable, reference: Callable, *args, **kwargs) -> bool:
    """Whether calling ``student(*args, **kwargs)`` runs ``reference``'s code, however it was imported.

    Uses a profile hook on the code object, so aliases (``from vaelab.reference import kl_normal
    as k``), modules reached through attributes and wrappers are all caught.
    """
    target = reference.__code__
    found = False

    def hook(frame, event, arg):
        nonlocal found
        if event == "call" and frame.f_code is target:
            found = True

    old = sys.getprofile()
    sys.setprofile(hook)
    try:
        student(*args, **kwargs)
    except Exception:
        pass
    finally:
        sys.setprofile(old)
    return found


@contextlib.contextmanager
def substituted(fn: Callable, **replacements):
    """Temporarily replace globals of ``fn``'s module (the notebook) with the given functions.

    An exercise that builds on earlier ones is then checked on its own: a mistake in ``kl_normal``
    costs ``kl_normal``'s points, not ``negative_elbo_bound``'s too. Only names that ``fn``'s
    module defines are replaced, and every one is restored afterwards.
    """
    g = fn.__globals__
    saved = {k: g[k] for k in replacements if k in g}
    g.update({k: v for k, v in replacements.items() if k in saved})
    try:
        yield
    finally:
        g.update(saved)


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



def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=_g(seed), dtype=dtype)


def _pos(*shape, seed=0, dtype=torch.float32):
    return F.softplus(_randn(*shape, seed=seed, dtype=dtype)) + 0.1


def _report(name: str, n: int) -> None:
    print(f"✓ {name}: {n} check{'s' if n != 1 else ''} passed")


def _scalar(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.dim() == 0


# The chapters' checks, re-exported so that notebooks import them from ``vaelab.checks``.
from .ch01 import *  # noqa: E402,F401,F403
from .ch02 import *  # noqa: E402,F401,F403
from .ch03 import *  # noqa: E402,F401,F403
from .ch04 import *  # noqa: E402,F401,F403
from .ch05 import *  # noqa: E402,F401,F403
