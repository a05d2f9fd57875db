"""Visible checks as observations: what a function does on fixed inputs, compared with what the
reference does on the same inputs, without the reference at hand.

A visible check is a **probe**: ``probe(fn) -> Observation``, which calls the function on seeded
inputs and records plain numbers: *values* (deterministic outputs and gradients, compared within a
tolerance) and *samples* (one number per call of a stochastic function, compared statistically).
The probe knows no answer. The **expected** observation is the same probe run on the reference
answer, and each known mistake is the same probe run on the mistake's code:

* in the instructor's source they are computed when first needed (:class:`LiveExpectations`, from
  :mod:`vaelab.reference` and its catalogues);
* in a student handout they were computed when the handout was written and are read from
  ``vaelab/checks/expected.pt`` (:class:`StoredExpectations`): outputs only, no code.

:func:`judge` compares a student's observation with the expected one and, when they differ, with
each mistake's, so that the message names the likely mistake.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .engine import STANDARD_ERRORS, CheckFailed, lost_precision
from .inputs import current_offset

#: The file a handout ships with the expected observations of every visible check.
STORE = Path(__file__).with_name("expected.pt")


@dataclass
class Observation:
    """What one function did in one probe.

    Attributes:
        values: name -> tensor, deterministic (compared within ``rtol``/``atol``).
        samples: name -> ``(n,)`` float64 tensor, one value per call (compared by their means).
        inputs: a fingerprint of the probe's inputs, so that stored values are never compared with
            outputs on other inputs (another version of torch may draw other seeded numbers).
        records: name -> tensor, raw material that a reference-free verdict judges on its own (draws,
            decoded noise, decoder calls); never compared with the reference's records, which are
            random too (:func:`first_difference` reads only ``values`` and ``samples``).
    """

    values: dict[str, torch.Tensor] = field(default_factory=dict)
    samples: dict[str, torch.Tensor] = field(default_factory=dict)
    inputs: str = ""
    records: dict[str, torch.Tensor] = field(default_factory=dict)

    def to_plain(self) -> dict:
        return {
            "values": {k: v.detach().cpu() for k, v in self.values.items()},
            "samples": {k: v.detach().cpu().double() for k, v in self.samples.items()},
            "inputs": self.inputs,
            "records": {k: v.detach().cpu() for k, v in self.records.items()},
        }

    @classmethod
    def from_plain(cls, plain: dict) -> Observation:
        # A store written before records existed has none.
        return cls(dict(plain["values"]), dict(plain["samples"]), plain["inputs"], dict(plain.get("records", {})))


def fingerprint(*tensors) -> str:
    """A short digest of tensors (and modules' parameters), rounded so that it survives platforms."""
    digest = hashlib.sha256()
    for item in tensors:
        parts = [p.detach() for p in item.parameters()] if hasattr(item, "parameters") else [item]
        for t in parts:
            digest.update(str(tuple(t.shape)).encode())
            digest.update(f"{t.double().sum().item():.6e}|{t.double().abs().sum().item():.6e}".encode())
    return digest.hexdigest()[:16]


@dataclass
class Expectation:
    """The expected observation of one check and the observations of its known mistakes."""

    expected: Observation
    mistakes: list[tuple[str, Observation]]


class LiveExpectations:
    """Runs the probe on the reference and on the catalogue's mistakes (instructor's source).

    Cached by the check and the seed offset in force (:func:`vaelab.checks.inputs.offset`): the graded
    inputs are not the visible ones. A probe with a ``screen(obs)`` (the reference-free verdict on its
    records) leaves out the mistakes it fails, as when that verdict ran inside the probe.
    """

    def __init__(self):
        from vaelab.reference.checks.visible import reference_and_mistakes

        self._source = reference_and_mistakes
        self._cache: dict[tuple[str, int], Expectation] = {}

    def get(self, check_id: str, probe: Callable[[Callable], Observation]) -> Expectation:
        key = (check_id, current_offset())
        if key not in self._cache:
            reference, mistakes = self._source(check_id)
            expected = probe(reference)
            screen = getattr(probe, "screen", None)
            observed = []
            for message, impl in mistakes:
                try:
                    got = probe(impl)
                    if screen is not None:
                        screen(got)
                except Exception:  # a mistake that crashes on these inputs cannot be told by its output
                    continue
                observed.append((message, got))
            self._cache[key] = Expectation(expected, observed)
        return self._cache[key]


class StoredExpectations:
    """Reads the observations written at handout time (:func:`record`)."""

    def __init__(self, path: Path = STORE):
        self._plain = torch.load(path, weights_only=True)

    def get(self, check_id: str, probe: Callable[[Callable], Observation]) -> Expectation:
        try:
            plain = self._plain[check_id]
        except KeyError:
            raise CheckFailed(f"no stored expected values for the check {check_id!r}: ask your instructor") from None
        return Expectation(
            Observation.from_plain(plain["expected"]),
            [(message, Observation.from_plain(obs)) for message, obs in plain["mistakes"]],
        )


_PROVIDER: LiveExpectations | StoredExpectations | None = None


def expectations() -> LiveExpectations | StoredExpectations:
    """The reference's observations: live where the reference's catalogues are installed, else stored."""
    global _PROVIDER
    if _PROVIDER is None:
        try:
            _PROVIDER = LiveExpectations()
        except ModuleNotFoundError as missing:
            # Only the instructor's catalogues being absent (a handout) means "read the stored values";
            # any other missing module is an error to show, not a reason to judge against another source.
            if not (missing.name or "").startswith("vaelab.reference"):
                raise
            _PROVIDER = StoredExpectations()
    return _PROVIDER


def record(probes: dict[str, Callable[[Callable], Observation]], path: Path) -> None:
    """Write every probe's expected and mistake observations to ``path`` (run by the handout builder)."""
    live = LiveExpectations()
    plain = {}
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)  # as a student's notebook has it; the probes' inputs do not depend on it
    try:
        _record_all(live, probes, plain)
    finally:
        torch.set_default_dtype(previous)
    torch.save(plain, path)


def _record_all(live: LiveExpectations, probes: dict, plain: dict) -> None:
    for check_id, probe in probes.items():
        expectation = live.get(check_id, probe)
        plain[check_id] = {
            "expected": expectation.expected.to_plain(),
            "mistakes": [(message, obs.to_plain()) for message, obs in expectation.mistakes],
        }


# ------------------------------------------------------------------------------------------------
# Judging
# ------------------------------------------------------------------------------------------------


def _tolerance(t: torch.Tensor, scale: float) -> tuple[float, float]:
    base = 1e-4 if t.dtype in (torch.float32, torch.float16, torch.bfloat16) else 1e-7
    return base * scale, base * scale


def values_match(got: torch.Tensor, want: torch.Tensor, scale: float = 1.0, nan_matches: bool = False) -> bool:
    """Same shape and values within the dtype's tolerance (times ``scale``); infinities must agree.
    ``nan_matches`` counts nan as equal to nan (for telling which mistake an unstable answer made)."""
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or lost_precision(got, want):
        return False
    rtol, atol = _tolerance(want, scale)
    g, w = got.detach().double().cpu(), want.detach().double().cpu()
    same_inf = torch.isinf(w) & (g == w)
    return bool((torch.isclose(g, w, rtol=rtol, atol=atol, equal_nan=nan_matches) | same_inf).all())


def standard_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """The standard error of the difference of the means of two sets of draws, both of the spread of
    ``want`` (the reference's): a right answer draws from the same distribution, and an answer whose
    own draws are noisier must not widen the test it is judged by."""
    spread = want.double().var().item()
    return math.sqrt(spread / len(got) + spread / len(want))


def samples_match(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Whether two sets of draws have the same mean, within :data:`STANDARD_ERRORS` standard errors
    (:func:`standard_error`)."""
    g, w = got.double(), want.double()
    se = standard_error(g, w) + 1e-9 * (1 + abs(w.mean().item()))
    return abs(g.mean().item() - w.mean().item()) <= STANDARD_ERRORS * se


def first_difference(got: Observation, want: Observation, grad_scale: float = 10.0) -> str | None:
    """The name of the first component where ``got`` differs from ``want``, or None."""
    # Values before the statistics of samples, and gradients last: a gradient's message says "the values are right".
    values = [name for name in want.values if "grad" not in name]
    for name in values:
        if name not in got.values or not values_match(got.values[name], want.values[name]):
            return name
    for name, draws in want.samples.items():
        if name not in got.samples or not samples_match(got.samples[name], draws):
            return name
    for name in want.values:
        if name in values:
            continue
        if name not in got.values or not values_match(got.values[name], want.values[name], grad_scale):
            return name
    return None


def _same_component(got: Observation, other: Observation, name: str) -> bool:
    if name in other.values:
        scale = 10.0 if "grad" in name else 1.0
        return name in got.values and values_match(got.values[name], other.values[name], scale, nan_matches=True)
    if name in other.samples:
        return name in got.samples and samples_match(got.samples[name], other.samples[name])
    return False


def _describe_difference(got: Observation, want: Observation, name: str) -> str:
    if name in want.samples:
        g, w = got.samples.get(name), want.samples[name]
        if g is None:
            return f"{name} is missing"
        se = standard_error(g, w)
        mean, expected = g.mean().item(), w.mean().item()
        return f"{name} averages {mean:.5g} over {len(g)} calls, expected about {expected:.5g} (±{se:.2g})"
    g, w = got.values.get(name), want.values[name]
    if g is None:
        return f"{name} is missing"
    if g.shape != w.shape:
        return f"{name} has shape {tuple(g.shape)}, expected {tuple(w.shape)}"
    if lost_precision(g, w):
        return (
            f"{name} is {str(g.dtype).replace('torch.', '')} for float64 inputs: keep the inputs' dtype (no .float() "
            "or torch.float32 inside), or the digits float64 keeps are lost"
        )
    if w.numel() == 1:
        return f"{name} = {g.item():.6g}, expected {w.item():.6g}"
    err = (g.double() - w.double()).abs().max().item()
    shift = (g.double() - w.double()).flatten()
    if torch.isfinite(shift).all() and torch.allclose(shift, shift[0].expand_as(shift), rtol=1e-3, atol=1e-5):
        return (
            f"{name}: every value is off by the same constant, {shift[0].item():+.4g} (look for a constant term that "
            "is missing, doubled or not halved, such as log(2π), log K or the -1 of a KL)"
        )
    return f"{name} differs from the expected values (largest difference {err:.3g})"


def _closest_mistake(got: Observation, expectation: Expectation, where: str) -> str | None:
    """The known mistake that agrees with ``got`` where it first differs from the answer, and on the
    most other components (ties: the catalogue's order)."""
    want, best, best_score = expectation.expected, None, -1
    components = list(want.values) + list(want.samples)
    for mistake, observed in expectation.mistakes:
        if first_difference(observed, want) is None or not _same_component(got, observed, where):
            continue
        score = sum(_same_component(got, observed, c) for c in components)
        if score > best_score:
            best, best_score = mistake, score
    return best


def judge(
    name: str,
    got: Observation,
    expectation: Expectation,
    hints: Callable[[str, Observation, Observation], str] | None = None,
) -> None:
    """Raise :class:`CheckFailed` unless ``got`` matches the expected observation.

    The message names the first differing component, the known mistake whose observation
    matches the student's on that component (if any), and the probe's own ``hints``.
    """
    want = expectation.expected
    if want.inputs and got.inputs and want.inputs != got.inputs:
        raise CheckFailed(
            f"{name}: the check's inputs differ from the ones its expected values were computed on (another "
            f"version of torch draws other seeded numbers?). Install the course's pinned torch (see the README)."
        )
    where = first_difference(got, want)
    if where is None:
        return
    difference = _describe_difference(got, want, where)
    mistake = _closest_mistake(got, expectation, where)
    if mistake is not None:
        raise CheckFailed(f"{name}: {mistake} ({difference}.)")
    message = f"{name}: {difference}."
    extra = hints(where, got, want) if hints else ""
    raise CheckFailed(f"{message} {extra}".rstrip())
