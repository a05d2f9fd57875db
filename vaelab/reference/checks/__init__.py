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

import math
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
    keeps_global_rng,
    lost_precision,
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
    if lost_precision(got, expected):
        return (
            f"{name} on {case.description} returned {str(got.dtype).replace('torch.', '')} for float64 inputs: "
            "keep the inputs' dtype (no .float() or torch.float32 inside), or the digits float64 keeps are lost."
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
            "numerically unstable (avoid log(sigmoid(.)), log(softmax(.)), log of a probability that rounds to 0, "
            "log(sum(exp(.))) and clamping; use logsumexp, log_softmax, softplus or binary_cross_entropy_with_logits, "
            "and the log-probabilities you are given)."
        )
    err = (got.detach().double() - expected.detach().double()).abs().max().item()
    ratio = ""
    g, e = got.detach().double().flatten(), expected.detach().double().flatten()
    # A constant factor can only be told from another mistake when there are several values to compare.
    if e.numel() > 1 and (e.abs() > 1e-6).all():
        r = g / e
        if torch.allclose(r, r[0].expand_as(r), rtol=1e-3) and abs(r[0].item() - 1) > 1e-3:
            ratio = (
                f" Every value is {r[0].item():.4g} times the expected one: look for a missing or extra "
                "constant factor."
            )
    if not ratio and e.numel() > 1:
        shift = g - e
        if torch.isfinite(shift).all() and torch.allclose(shift, shift[0].expand_as(shift), rtol=1e-3, atol=1e-5):
            ratio = (
                f" Every value is off by the same constant, {shift[0].item():+.4g}: look for a constant term that is "
                "missing, doubled or not halved (such as log(2π), log K or the -1 of a KL), or one counted once "
                "instead of once per coordinate."
            )
    near = ""
    rel = err / (expected.detach().double().abs().max().item() + 1e-12)
    if not ratio and rel < 1e-2 and name in NEAR_MISS_HINTS:
        near = " " + NEAR_MISS_HINTS[name]
    return (
        f"{name} on {case.description}: values differ from the expected ones (largest difference "
        f"{err:.3g}).{ratio}{near}"
    )


#: Appended when an answer is right on every ordinary case and wrong only on an extreme one.
EXTREME_HINT = (
    " It is right on the ordinary inputs and wrong only on these extreme ones: an epsilon added inside a log or to "
    "a variance, or a clamp, changes the result exactly there. Compute the formula exactly (no epsilon, no clamp), "
    "in a numerically stable form."
)


#: Words of a case's description that mark extreme inputs (tiny variances, confident logits, far points).
EXTREME_WORDS = (
    "tiny",
    "large",
    "very",
    "far",
    "narrow",
    "confident",
    "1e-",
    "overflow",
    "underflow",
    "spread",
    "peaked",
    "floor",
    "±",
    "wide",
)


def _is_extreme(case: Case) -> bool:
    return any(word in case.description for word in EXTREME_WORDS)


def _gradient_cause(got: Any, case: Case, mistakes: Iterable[Mistake]) -> str:
    """The catalogue's mistake whose values and gradients the answer reproduces (an epsilon, a clamp:
    values right to the tolerance, gradients not), if any."""
    inputs = [a for a in case.args if isinstance(a, torch.Tensor) and a.requires_grad]
    if not isinstance(got, torch.Tensor) or not got.requires_grad or not inputs:
        return ""
    finite = torch.isfinite(got.detach())
    g_got = torch.autograd.grad(got[finite].sum(), inputs, allow_unused=True, retain_graph=True)
    for mistake in mistakes:
        try:
            wrong = mistake.impl(*case.args)
            if not (_close(got, wrong, scale=0.01) and wrong.requires_grad):
                continue
            g_wrong = torch.autograd.grad(wrong[finite].sum(), inputs, allow_unused=True, retain_graph=True)
        except Exception:
            continue
        if all(
            (a is None and b is None) or (a is not None and b is not None and _close(a, b, scale=10.0))
            for a, b in zip(g_got, g_wrong)
        ):
            return f" The likely cause: {mistake.message}"
    return ""


def _random_hint(student: Callable, name: str, args: tuple, got: Any) -> str:
    """A hint when the answer returns different values for the same inputs: it samples."""
    if not isinstance(got, torch.Tensor):
        return ""
    try:
        again = student(*args)
    except Exception:
        return ""
    if isinstance(again, torch.Tensor) and again.shape == got.shape and not torch.equal(again.detach(), got.detach()):
        return (
            f" {name} returned different values for the same inputs: it draws random numbers (a Monte Carlo "
            "estimate). The exercise asks for the exact, analytic (closed form) value."
        )
    return ""


def _exception_hint(message: str) -> str:
    """A hint for the common errors a shape mistake raises."""
    if "Dimension out of range" in message:
        return (
            " A fixed dimension index (dim=1) fails on inputs with fewer dimensions: reduce over the last "
            "dimension with dim=-1, which works for any number of batch dimensions."
        )
    if "Expected input batch_size" in message and "target batch_size" in message:
        return (
            " The targets do not line up with the examples: take each image's label over the class dimension, "
            "y.argmax(dim=-1), not over the batch (dim=0)."
        )
    if "must match the size" in message or "broadcast" in message:
        return (
            " The shapes do not broadcast: a reduction without keepdim=True (or a missing new axis) leaves a "
            "tensor that no longer lines up with the one it is combined with."
        )
    return ""


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same shape and the same values, nan where nan (an input the answer left alone)."""
    return (
        a.shape == b.shape
        and bool(torch.equal(a.detach().isnan(), b.isnan()))
        and bool((a.detach().nan_to_num(0.0) == b.nan_to_num(0.0)).all())
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
        # The answer runs before the reference, on its own copy of the inputs: the expected value does
        # not exist yet while the answer runs (nothing to read from the caller's frame), and an answer
        # that changes its inputs in place does not change what it is compared with.
        own = tuple(
            a.detach().clone().requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor) else a for a in args
        )
        try:
            got = _call(student, name, args)
        except CheckFailed as failure:
            hint = _exception_hint(str(failure))
            if not hint or hint.strip() in str(failure):
                raise
            raise CheckFailed(str(failure).rstrip(". ") + "." + hint) from None
        changed = [
            i for i, (a, b) in enumerate(zip(args, own)) if isinstance(a, torch.Tensor) and not _same_tensor(a, b)
        ]
        if changed:
            raise CheckFailed(
                f"{name} on {case.description} changes its input number {changed[0] + 1} in place (an operation "
                "ending in _, such as clamp_ or add_, or an assignment into it): the caller's tensors must stay as "
                "they were; compute on new tensors instead."
            )
        expected = reference(*args)
        if not _close(got, expected):
            message = _diagnose(name, got, expected, case, mistakes)
            if "values differ" in message or "inf or nan" in message:
                message += _random_hint(student, name, args, got)
                if (
                    case.grad
                    and isinstance(got, torch.Tensor)
                    and not got.requires_grad
                    and any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)
                ):
                    message += (
                        " It also has no gradient with respect to the inputs: argmax, a comparison, .detach(), "
                        ".item() or numpy cut the graph, so nothing could be trained through it."
                    )
                if n >= 2 and _is_extreme(case) and "Monte Carlo" not in message and "constant factor" not in message:
                    message += EXTREME_HINT
            raise CheckFailed(message)
        if case.grad:
            try:
                _check_gradients(name, got, expected, case)
            except CheckFailed as failure:
                raise CheckFailed(str(failure) + _gradient_cause(got, case, mistakes)) from None
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


# --------------------------------------------------------------------------------------------------
# Contracts of the stochastic exercises, shared by the chapters' hidden tests.
# --------------------------------------------------------------------------------------------------


#: The visible check's contract test, with its wording (one definition for both checks).
check_keeps_global_rng = keeps_global_rng


def decoded_noise(
    codes: list[torch.Tensor], qm: torch.Tensor, qv: torch.Tensor, example_major: bool = False
) -> torch.Tensor:
    """``(z - m) / sqrt(v)`` of every decoded code, flattened; any call pattern the networks accept:
    ``(B, Z)``, ``(S, B, Z)`` (``S = 1`` too), ``(S * B, Z)`` repetition-major (or, with
    ``example_major``, ``(B * S, Z)`` with each example's samples together), or ``[z, y]`` concatenated."""
    batch, z_dim = qm.shape[-2], qm.shape[-1]
    noise = []
    for z in codes:
        z = z.detach()[..., :z_dim].double()
        if z.numel() % (batch * z_dim) == 0:
            z = z.reshape(batch, -1, z_dim).transpose(0, 1) if example_major else z.reshape(-1, batch, z_dim)
            noise.append(((z - qm.double()) / qv.double().sqrt()).flatten())
    return torch.cat(noise) if noise else torch.zeros(0, dtype=torch.float64)


def check_decoded_noise(name: str, fn: Callable, args: tuple, model, encode_args: tuple, n_calls: int = 20) -> None:
    """The codes that ``fn`` decodes must be draws from ``q(z|x)``: ``(z - m) / sqrt(v) ~ N(0, 1)``.

    Judges the distribution of what the objective feeds the decoder (mean and variance within six
    standard errors), so a sample with the wrong spread fails however the rest of the bound looks.
    """
    from vaelab.checks.objective import _check_fresh_noise
    from vaelab.checks.probes import DecoderTap, batched

    with torch.no_grad():
        qm, qv = model.encode(*encode_args)
    with torch.random.fork_rng(), torch.no_grad(), DecoderTap(model) as tap:
        torch.manual_seed(31)
        for _ in range(n_calls):
            _call(fn, name, args)
    batch, z_dim = qm.shape
    codes = [
        z.detach()[..., :z_dim] for z in batched(tap.inputs, batch) if z[..., :z_dim].numel() % (batch * z_dim) == 0
    ]
    if codes:  # named first: shared or reused noise has the right mean and variance only by luck
        _check_fresh_noise(
            name, [((z.reshape(-1, batch, z_dim) - qm) / qv.sqrt()).flatten() for z in codes], batch, z_dim
        )
    for example_major in (True, False):  # either order of the samples of a batch (rep-major last: its stats reported)
        e = decoded_noise(batched(tap.inputs, qm.shape[0]), qm, qv, example_major)
        if e.numel() == 0:
            raise CheckFailed(
                f"{name} never decoded codes z of the encoder's shape {tuple(qm.shape)}: decode the "
                "sample z ~ q(z|x) with model.decode(z)."
            )
        n, mean, var = e.numel(), e.mean().item(), e.var().item()
        if abs(mean) <= 6 / math.sqrt(n) and abs(var - 1) <= 6 * math.sqrt(2 / n):
            return
    v = qv.double()
    hint = "Sample z = m + sqrt(v) * eps with eps ~ N(0, I) drawn afresh at every call."
    if var < 1e-12:
        hint = (
            "z is the encoder mean, not a sample: it never changes between calls. Draw z = m + sqrt(v) * eps with "
            "fresh noise at every call."
        )
    elif abs(var - v.mean().item()) < 0.2 * v.mean().item():
        hint = (
            "The noise is scaled by the variance v; scale it by the standard deviation sqrt(v): z = m + sqrt(v) * eps."
        )
    elif abs(var - (1 / v).mean().item()) < 0.2 * (1 / v).mean().item():
        hint = "The noise is not scaled: z = m + sqrt(v) * eps (the standard deviation sqrt(v)), not m + eps."
    raise CheckFailed(
        f"{name}: the codes it decodes are not draws from q(z|x) = N(m, v): (z - m) / sqrt(v) has mean {mean:.3f} "
        f"and variance {var:.3f} over {n} values, expected 0 and 1. {hint}"
    )


def _codes_as_samples(z: torch.Tensor, batch: int, z_dim: int, example_major: bool) -> torch.Tensor | None:
    """A decoded code as ``(S, B, Z)`` samples (any call pattern the networks accept), or None."""
    z = z[..., :z_dim]
    if z.numel() % (batch * z_dim):
        return None
    return z.reshape(batch, -1, z_dim).transpose(0, 1) if example_major else z.reshape(-1, batch, z_dim)


def check_gradient_at_codes(
    name: str, fn: Callable, args: tuple, model, encode_args: tuple, bound_at: Callable, what: str = "the bound"
) -> None:
    """The gradient of the answer's bound must be the reference's at the very codes it decoded.

    A decoder tap records the codes ``z``; the noise ``eps = (z - m) / sqrt(v)`` is recovered, and the
    reference's ``bound_at(m, v, eps)`` (``eps`` of shape ``(S, B, Z)``, ``z = m + sqrt(v) * eps`` rebuilt
    with the graph) is differentiated with respect to every parameter of the model. A detached ``z``,
    log-density, prior or importance weight changes the gradient but not the value, so it shows here.
    When no decoded code reproduces the answer's value, the value checks speak instead.
    """
    from vaelab.checks.probes import DecoderTap, batched

    params = [p for p in model.parameters() if p.requires_grad]
    with DecoderTap(model) as tap:
        out = _call(fn, name, args)
    bound = out[0] if isinstance(out, (tuple, list)) else out
    if not isinstance(bound, torch.Tensor) or not bound.requires_grad:
        raise CheckFailed(f"{name}: {what} has no gradient; do not use .item(), .detach(), numpy or torch.no_grad().")
    got = torch.autograd.grad(bound, params, allow_unused=True, retain_graph=True)
    got = torch.cat([(torch.zeros_like(p) if g is None else g).flatten().double() for g, p in zip(got, params)])
    m, v = model.encode(*encode_args)
    batch, z_dim = m.shape
    worst = None
    for z in batched(tap.inputs, batch):
        for example_major in (False, True):
            samples = _codes_as_samples(z.detach(), batch, z_dim, example_major)
            if samples is None:
                continue
            eps = (samples - m.detach()) / v.detach().sqrt()
            want_bound = bound_at(m, v, eps)
            if not torch.isclose(want_bound.detach().double(), bound.detach().double(), rtol=1e-4, atol=1e-4):
                continue
            want = torch.autograd.grad(want_bound, params, allow_unused=True, retain_graph=True)
            want = torch.cat(
                [(torch.zeros_like(p) if g is None else g).flatten().double() for g, p in zip(want, params)]
            )
            diff = (got - want).abs().max().item()
            if diff <= 2e-3 * want.abs().max().item() + 1e-5:
                return
            worst = diff if worst is None else min(worst, diff)
    if worst is not None:
        raise CheckFailed(
            f"{name}: the value of {what} is right, but its gradient differs from the reference's at the same "
            f"sampled z (largest difference {worst:.3g}): a detached z, log-density, prior or weight (.detach(), "
            ".item(), torch.no_grad(), .data) removes part of the gradient, so training would follow a biased "
            "direction."
        )


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
