"""The engine of the checks: failures that teach, comparisons of values and gradients.

Shared by the visible checks of the notebooks (:mod:`vaelab.checks`, shipped to students) and the
instructor's full checks (:mod:`vaelab.reference.checks`). Nothing here knows an exercise's answer.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .inputs import generator, positive, randn

#: How many standard errors a statistical comparison tolerates: a correct answer fails about once
#: in 1.7 million comparisons (two-sided normal tail), a biased one fails once its bias is larger.
STANDARD_ERRORS = 6.0


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


#: Floating dtypes with less precision than float64: a float64 answer returned in one of them has lost digits.
LOW_PRECISION = (torch.float32, torch.float16, torch.bfloat16)


def lost_precision(got: Any, expected: torch.Tensor) -> bool:
    """Whether a float64 result came back in a lower precision (a ``.float()`` on the way)."""
    return isinstance(got, torch.Tensor) and expected.dtype == torch.float64 and got.dtype in LOW_PRECISION


def _close(got: Any, expected: torch.Tensor, scale: float = 1.0) -> bool:
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or lost_precision(got, expected):
        return False
    rtol, atol = _tol(expected)
    got64, exp64 = got.detach().double(), expected.detach().double()
    same_inf = torch.isinf(exp64) & (got64 == exp64)
    ok = torch.isclose(got64, exp64, rtol=rtol * scale, atol=atol * scale) | same_inf
    return bool(ok.all())


def _describe_one(a: Any) -> str:
    """One argument in a line: a tensor by its shape and dtype, a model by its class (never its repr,
    which prints every layer), a number or short string as it is."""
    if isinstance(a, torch.Tensor):
        return f"tensor{tuple(a.shape)} {str(a.dtype).replace('torch.', '')}"
    if isinstance(a, torch.nn.Module):
        return f"a {type(a).__name__} model"
    if isinstance(a, (tuple, list)) and len(a) <= 4:
        return "(" + ", ".join(_describe_one(x) for x in a) + ")"
    if isinstance(a, (bool, int, float, str, type(None))) and len(repr(a)) <= 40:
        return repr(a)
    return f"a {type(a).__name__}"


def _describe(args: tuple) -> str:
    """The arguments of a call in one line, e.g. ``(a VAE model, tensor(20, 784) float32, 4)``."""
    return "(" + ", ".join(_describe_one(a) for a in args) + ")"


def _plain(result: Any, name: str) -> Any:
    """``result`` if every tensor in it is a plain ``torch.Tensor``: a subclass can redefine every
    operation on itself (``__torch_function__``), comparisons included, so no check could trust it."""
    items = result if isinstance(result, (tuple, list)) else (result,)
    for item in items:
        if isinstance(item, torch.Tensor) and type(item) not in (torch.Tensor, torch.nn.Parameter):
            raise CheckFailed(
                f"{name} returned a {type(item).__name__}, a subclass of torch.Tensor: return a plain torch.Tensor "
                "(the result of ordinary torch operations)."
            )
    return result


def _call(fn: Callable, name: str, args: tuple):
    try:
        return _plain(fn(*args), name)
    except NotImplementedError:
        raise CheckFailed(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code."
        ) from None
    except CheckFailed:
        raise
    except Exception as exc:  # the student's code raised: report it as feedback, with the inputs
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise CheckFailed(f"{name} raised {type(exc).__name__}: {first} (called with {_describe(args)})") from exc


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


def keeps_global_rng(fn: Callable, name: str, args: tuple, seeds: tuple[int, int] = (101, 202)) -> None:
    """``fn`` must draw from torch's global generator, not reset it (no ``torch.manual_seed`` inside).

    From two different global seeds, the call must leave two different random states behind (the
    grader's test, with its wording). Needs no reference.
    """
    if resets_global_rng(fn, name, args, seeds):
        raise CheckFailed(RESETS_GLOBAL_RNG.format(name=name))


RESETS_GLOBAL_RNG = (
    "{name} resets torch's global random state (torch.manual_seed inside the function?): every call then "
    "reuses the same noise, and the rest of the notebook loses its randomness. Never seed inside an exercise; "
    "draw from the global generator (or the generator you are given)."
)


def resets_global_rng(fn: Callable, name: str, args: tuple, seeds: tuple[int, int] = (101, 202)) -> bool:
    """Whether two calls from two different global seeds leave the same random state behind."""
    after = []
    with torch.random.fork_rng():
        for seed in seeds:
            torch.manual_seed(seed)
            _call(fn, name, args)
            after.append(torch.random.get_rng_state())
    return torch.equal(after[0], after[1])


def refusal(name: str, reference: Callable) -> str:
    """The grader's message for an answer that runs the reference implementation of its exercise."""
    return (
        f"{name} calls vaelab's reference implementation ({reference.__module__}.{reference.__name__}). "
        "The exercise is to write it yourself, so this answer earns no points for this function."
    )


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


# The seeded inputs under the short names the check modules use.
_g, _randn, _pos = generator, randn, positive


def _report(name: str, n: int) -> None:
    print(f"✓ {name}: {n} check{'s' if n != 1 else ''} passed")


def _scalar(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.dim() == 0
