"""Probes of the objectives (``negative_elbo_bound``, ``negative_iwae_bound``): what an objective
returns on a small model, in four views that any valid use of the random number generator passes.

1. **exact outputs** at the model's real variances, for outputs that are not random (an analytic
   KL), for each of the probe's calls (several betas, several ``iw``);
2. **the zero-variance limit** (:class:`~vaelab.checks.probes.TinyVariance`, in float64): every
   sample is the encoder mean, so the outputs that depend on ``z`` only through the decoder and the prior become
   deterministic, and so does **the gradient** of the bound with respect to every parameter (a
   detached ``z`` or term changes it);
3. **the sampled outputs**: one value per call over ``n_calls`` seeded calls, compared by their
   means with the reference's (a sample with the wrong spread changes them);
4. optionally **the gradient in expectation**: the gradient of the bound projected on fixed
   directions, one value per call, compared by their means (detached importance weights change it).

Reference-free structure checks run first: the tuple, scalars, and the probe's ``consistency``.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .engine import STANDARD_ERRORS, CheckFailed, _call, _report, _scalar, keeps_global_rng, substituted
from .observe import Observation, expectations, fingerprint
from .probes import DecoderTap, TinyVariance, batched

#: Number of fixed random directions the gradient in expectation is projected on.
DIRECTIONS = 2


def outputs_of(name: str, out, names: Sequence[str]) -> tuple:
    """``out`` as a tuple of scalars named ``names``; raises a clear :class:`CheckFailed` otherwise."""
    wanted = "(" + ", ".join(names) + ")"
    if not (isinstance(out, (tuple, list)) and len(out) == len(names)):
        raise CheckFailed(
            f"{name} must return a tuple {wanted}; it returned {type(out).__name__}"
            + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
            + "."
        )
    if any(isinstance(t, (int, float)) for t in out):
        raise CheckFailed(
            f"{name} returned Python numbers, not tensors: .item() (or float()) cuts the gradient, so nothing could "
            "be trained. Return the scalar tensors themselves."
        )
    if not all(_scalar(t) for t in out):
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__ for t in out]
        raise CheckFailed(
            f"{name} must return {len(names)} scalars (means over the batch); got shapes {shapes}. "
            "Average over the batch with .mean()."
        )
    return tuple(out)


def _flat_grad(parameters: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([(torch.zeros_like(p) if p.grad is None else p.grad).flatten() for p in parameters]).detach()


@dataclass
class ObjectiveProbe:
    """How to observe one objective; ``probe(fn) -> Observation``.

    Attributes:
        name: the exercise's name (for messages).
        outputs: the names of the returned scalars, the bound first.
        inputs: ``() -> tuple`` of the model and its data, built from seeds.
        calls: ``(*inputs) -> [(args, label)]``: the calls whose ``exact`` outputs are recorded.
        exact: outputs that are deterministic at the real variances.
        limit_args: ``(*inputs) -> args`` of the call in the zero-variance limit (the model first).
        limit_random: outputs still random in that limit (e.g. a Monte Carlo log q(z|x)).
        sampled: outputs whose mean over ``n_calls`` calls is compared, for each of ``sample_calls``
            (``(*inputs) -> [(args, label)]``; by default the ``limit_args`` with the real model).
        gradient_samples: also compare the gradient of the bound in expectation.
        consistency: ``(name, args, outputs)`` structure checks that need no reference.
    """

    name: str
    outputs: tuple[str, ...]
    inputs: Callable[[], tuple]
    calls: Callable[..., list[tuple[tuple, str]]]
    exact: tuple[str, ...] = ()
    limit_args: Callable[..., tuple] | None = None
    limit_random: tuple[str, ...] = ()
    sampled: tuple[str, ...] = ()
    sample_calls: Callable[..., list[tuple[tuple, str]]] | None = None
    n_calls: int = 20
    gradient_samples: bool = False
    consistency: Callable | None = None
    seed: int = 1
    extra: list[Callable] = field(default_factory=list)

    def _call(self, fn, args) -> tuple:
        out = outputs_of(self.name, _call(fn, self.name, args), self.outputs)
        # Non-finite outputs are left to the observations, which name the instability.
        if self.consistency is not None and all(bool(torch.isfinite(t).all()) for t in out):
            self.consistency(self.name, args, out)
        return out

    def screen(self, obs: Observation) -> None:
        """The reference-free verdicts on what the probe recorded (the decoded noise), judged where the
        observation is judged, before the comparison with the expected values."""
        if NOISE in obs.records:
            judge_noise(self.name, obs)

    def __call__(self, fn: Callable) -> Observation:
        inputs = self.inputs()
        obs = Observation(inputs=fingerprint(*inputs))
        rng_args = self.limit_args(*inputs) if self.limit_args is not None else self.calls(*inputs)[0][0]
        keeps_global_rng(fn, self.name, rng_args)
        for args, label in self.calls(*inputs):
            out = self._call(fn, args)
            for key in self.exact:
                obs.values[f"{key} with {label}"] = out[self.outputs.index(key)].detach()
        if self.limit_args is not None:
            self._limit(fn, inputs, obs)
            self._sampled(fn, inputs, obs)
        for extra in self.extra:
            extra(self, fn, inputs, obs)
        return obs

    def _limit(self, fn, inputs, obs: Observation) -> None:
        # In float64: z - m is then about 1e-7 sqrt(v) with nine exact digits, so the terms of the
        # gradient that cancel exactly in the answer (log q(z|x) at z = m + sqrt(v) eps) cancel here too.
        args = [
            a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a
            for a in self.limit_args(*copy.deepcopy(inputs))
        ]
        model = args[0]
        model.double()
        params = list(model.parameters())
        model.zero_grad(set_to_none=True)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            out = self._call(fn, (TinyVariance(model), *args[1:]))
        # The terms first, the bound last: a wrong term is then named rather than the sum it spoils.
        for key, value in [*zip(self.outputs[1:], out[1:]), (self.outputs[0], out[0])]:
            if key not in self.limit_random:
                obs.values[f"{key} in the zero-variance limit"] = value.detach()
        if not out[0].requires_grad:
            raise CheckFailed(
                f"{self.name}: {self.outputs[0]} has no gradient; do not use .item(), .detach(), numpy or "
                "torch.no_grad() in the objective."
            )
        out[0].backward()
        obs.values[f"gradient of {self.outputs[0]} in the zero-variance limit"] = _flat_grad(params)
        model.zero_grad(set_to_none=True)

    def _sampled(self, fn, inputs, obs: Observation) -> None:
        if not (self.sampled or self.gradient_samples):
            return
        calls = self.sample_calls(*inputs) if self.sample_calls else [(self.limit_args(*inputs), "")]
        for args, label in calls:
            obs.samples.update(self._draws(fn, args, f" with {label}" if label else ""))

    def _draws(self, fn, args, label: str) -> dict[str, torch.Tensor]:
        """One value per call, over ``n_calls`` seeded calls, for the sampled outputs (and gradients)."""
        model, params = args[0], list(args[0].parameters())
        directions = torch.randn(
            DIRECTIONS,
            sum(p.numel() for p in params),
            generator=torch.Generator().manual_seed(self.seed),
            dtype=torch.float64,
        )
        draws: dict[str, list[float]] = {}
        suffix = f"{label} (its mean over {self.n_calls} calls)"
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            for _ in range(self.n_calls):
                out = self._call(fn, args)
                for key in self.sampled:
                    draws.setdefault(f"{key}{suffix}", []).append(out[self.outputs.index(key)].item())
                if self.gradient_samples:
                    model.zero_grad(set_to_none=True)
                    out[0].backward()
                    for i, value in enumerate((directions @ _flat_grad(params).double()).tolist()):
                        draws.setdefault(f"gradient of {self.outputs[0]} along direction {i + 1}{suffix}", []).append(
                            value
                        )
        model.zero_grad(set_to_none=True)
        return {key: torch.tensor(values, dtype=torch.float64) for key, values in draws.items()}


#: The hint for an objective whose output is inf or nan where the answer's is finite.
UNSTABLE = (
    "The answer is finite but yours is inf or nan: the computation is numerically unstable. A probability that "
    "rounds to 0 (exp of a large negative number underflows, a sigmoid or softmax saturates) gives log(0) = -inf: "
    "stay in log space (log_softmax, logsumexp, F.logsigmoid, binary_cross_entropy_with_logits)."
)


def ratio_hint(
    where: str,
    got: Observation,
    want: Observation,
    batch: int,
    last_dims: dict[str, int] | None = None,
    betas: Sequence[float] = (),
) -> str:
    """A hint for a differing scalar of an objective, from the ratio of the values where it tells."""
    if where.startswith("gradient of") and where in want.values:
        return (
            "The values are right but the gradient is not: is z, a log-density or a weight detached (.detach(), "
            ".item(), torch.no_grad()), or is z drawn outside the reparameterisation z = m + sqrt(v) * eps?"
        )
    if where in want.samples:
        g, w = got.samples.get(where), want.samples[where]
        if g is not None and not torch.isfinite(g).all() and torch.isfinite(w).all():
            return UNSTABLE
        if g is not None and g.std() < 1e-9 < w.std():
            return "It never changes between calls: z must be sampled from q(z|x), not set to its mean."
        if where.startswith("gradient"):
            return (
                "The gradient is wrong on average: an importance weight or a term is probably detached, or the "
                "samples do not come from the reparameterisation z = m + sqrt(v) * eps."
            )
        return "Sample z ~ q(z|x) with the reparameterisation trick, z = m + sqrt(v) * eps, eps ~ N(0, I)."
    g, w = got.values.get(where), want.values.get(where)
    if g is None or w is None or g.numel() != 1 or abs(w.item()) < 1e-12:
        return ""
    if not torch.isfinite(g).all() and torch.isfinite(w).all():
        return UNSTABLE
    output = where.split(" ")[0]
    for key, draws in want.samples.items():  # the value of another output: swapped in the tuple?
        other = key.split(" ")[0]
        if other != output and abs(g.item() - draws.mean().item()) <= STANDARD_ERRORS * (draws.std().item() + 1e-6):
            return f"It looks like {other}: are {output} and {other} swapped in the returned tuple?"
    ratio = g.item() / w.item()
    candidates = [
        (-1.0, "The sign is flipped."),
        (float(batch), "It is the sum over the batch: take the mean over examples."),
    ]
    if last_dims and output in last_dims:
        candidates.append(
            (
                1.0 / last_dims[output],
                "It is averaged over the last dimension: sum over it, then average over the batch.",
            )
        )
    candidates += [
        (b, "It already includes beta: return the plain KL, nelbo = rec + beta * kl.")
        for b in betas
        if b != 1 and f"beta = {b:g}" in where
    ]
    for value, hint in candidates:
        if abs(ratio - value) < 1e-3 * max(1.0, abs(value)):
            return hint
    return ""


def failing_helpers(fn: Callable) -> list[tuple[str, str]]:
    """``(helper, message)`` for the exercise functions of the notebook that ``fn`` calls by name
    (``log_normal``, ``duplicate``, ...) and that fail their own visible checks."""
    import contextlib
    import io

    from . import VISIBLE

    failing = []
    module = getattr(fn, "__module__", None)
    for check_id, check in VISIBLE.items():
        helper = check_id.split("/")[1]
        candidate = getattr(fn, "__globals__", {}).get(helper)
        if (
            helper == getattr(fn, "__name__", None)
            or helper not in getattr(fn, "__code__", _NO_CODE).co_names
            or not callable(candidate)
            or getattr(candidate, "__module__", None) != module
        ):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check(candidate)
        except CheckFailed as error:
            failing.append((helper, str(error)))
    return failing


class _NoCode:
    co_names: tuple = ()


_NO_CODE = _NoCode()


def reference_helpers(names) -> dict[str, Callable]:
    """The reference versions of the exercise functions ``names`` that are installed (all of them in the
    instructor's source and the grader, only the ``--solved`` chapters' in a student handout)."""
    import importlib

    from ..chapters import EXERCISES

    found = {}
    for chapter, exercises in EXERCISES.items():
        wanted = [name for name in names if name in exercises]
        if not wanted:
            continue
        try:
            module = importlib.import_module(f"vaelab.reference.ch{chapter[:2]}")
        except ModuleNotFoundError:
            continue
        found.update({name: getattr(module, name) for name in wanted})
    return found


def run_objective(chk, fn: Callable) -> None:
    """Observe ``fn`` with the objective's :class:`~vaelab.checks.graded.Check`, judge it against the
    expected observation, and print ✓.

    When it fails and it calls the notebook's own exercise functions (its helpers) that fail their own
    checks, ``fn`` is judged on its own where the reference helpers are installed (as the grader
    grades it): if it passes with them, a warning names the helper to fix and the check passes, so a
    mistake costs only its own function. Elsewhere the message names the failing helper first.
    """
    probe = chk.observe
    try:
        got = _judged(chk, fn)
    except CheckFailed as error:
        failing = failing_helpers(fn)
        if not failing:
            raise
        helper, message = failing[0]
        references = reference_helpers([name for name, _ in failing])
        if len(references) == len(failing):
            with substituted(fn, **references):
                got = _judged(chk, fn)  # raises if fn itself is wrong
            print(
                f"⚠ {probe.name} is right with correct helpers, but your {helper} fails its own check: {message}\n"
                f"  Fix {helper} (its check above says how) before training."
            )
        else:
            raise CheckFailed(
                f"{probe.name} fails, and it calls your {helper}, which fails its own check: {message} Fix {helper} "
                f"first (the grader grades {probe.name} with a correct {helper}). "
                f"What {probe.name}'s check saw: {error}"
            ) from None
    _report(probe.name, len(got.values) + len(got.samples))


def _judged(chk, fn: Callable) -> Observation:
    got = chk.observe(fn)
    chk.judge(got, expectations())
    return got


def _check_fresh_noise(name: str, noise: list[torch.Tensor], batch: int, z_dim: int) -> None:
    """Independent draws are never equal: not from one call to the next, not between the images of a
    batch. ``noise``: the flattened ``(z - m) / sqrt(v)`` of each decoded code, ``S * B * Z`` values."""
    same = functools.partial(torch.allclose, rtol=1e-4, atol=1e-4)  # (z - m) / sqrt(v) rounds differently per row
    if noise[0].abs().max() < 1e-3:  # the mean decoded, not a sample: the spread test below names it
        return
    if len(noise) > 1 and all(same(e, noise[0]) for e in noise[1:]):
        raise CheckFailed(
            f"{name}: every call decodes the same noise (z - m) / sqrt(v): the noise is drawn once and reused "
            "(cached, or drawn from a re-seeded generator). Draw fresh noise at every call."
        )
    rows = noise[0].reshape(-1, batch, z_dim)
    if batch > 1 and z_dim > 1 and all(same(r, r[:1].expand_as(r)) for r in rows):
        raise CheckFailed(
            f"{name}: every image of the batch gets the same noise vector eps: one draw of shape (Z,) is shared by "
            "the whole batch. Draw one eps per image, of the shape of m (torch.randn_like(m))."
        )


def _from_prior(pm: torch.Tensor | None, pv: torch.Tensor | None, codes: torch.Tensor) -> bool:
    """Whether the decoded codes ``(N, Z)`` look like draws from the model's Gaussian prior ``(1, Z)``
    rather than from the posterior (mean and variance of ``(z - pm) / sqrt(pv)`` near 0 and 1)."""
    if pm is None or pv is None or pm.dim() != 2 or not codes.numel():
        return False
    e = ((codes - pm.double()) / pv.double().sqrt()).flatten()
    return abs(e.mean().item()) < 0.1 and abs(e.var().item() - 1) < 0.15


#: The records' names of :func:`standard_noise` (``NOISE`` and its suffixes).
NOISE = "decoded noise (z - m) / sqrt(v)"
NOISE_LENGTHS, NOISE_SHAPE, NOISE_V = f"{NOISE}: lengths", f"{NOISE}: batch and Z", f"{NOISE}: posterior variances"
NOISE_CODES, NOISE_PM, NOISE_PV = f"{NOISE}: codes", f"{NOISE}: prior mean", f"{NOISE}: prior variance"


def standard_noise(probe: ObjectiveProbe, fn: Callable, inputs: tuple, obs: Observation) -> None:
    """Records the noise of the codes an objective decodes, for :func:`judge_noise`.

    A decoder tap records every ``z`` over ``probe.n_calls`` calls; the records hold ``(z - m) / sqrt(v)``
    of every batch of decoded codes of the encoder's shape ((B, Z), (1, B, Z), (S * B, Z), float64, flat),
    the length of each, ``(B, Z)``, the posterior variances, every decoded code ``(N, Z)`` and the model's
    Gaussian prior (if it has one), all that the verdict needs and nothing judged here.
    """
    model, x = inputs[0], inputs[1]
    args = probe.limit_args(*inputs)
    with torch.no_grad():
        qm, qv = model.encode(*((x, inputs[2]) if len(inputs) > 2 else (x,)))
    with torch.random.fork_rng(), DecoderTap(model) as tap:
        torch.manual_seed(probe.seed + 1)
        for _ in range(probe.n_calls):
            probe._call(fn, args)
    batch, z_dim = qm.shape
    noise, codes = [], []
    for z in batched(tap.inputs, batch):
        z = z.detach()[..., :z_dim].double()
        if z.numel() % (batch * z_dim) == 0:
            noise.append(((z.reshape(-1, batch, z_dim) - qm.double()) / qv.double().sqrt()).flatten())
        if z.numel() % z_dim == 0:
            codes.append(z.reshape(-1, z_dim))
    empty = torch.zeros(0, dtype=torch.float64)
    obs.records[NOISE] = torch.cat(noise) if noise else empty
    obs.records[NOISE_LENGTHS] = torch.tensor([e.numel() for e in noise], dtype=torch.int64)
    obs.records[NOISE_SHAPE] = torch.tensor([batch, z_dim], dtype=torch.int64)
    obs.records[NOISE_V] = qv.detach().double()
    obs.records[NOISE_CODES] = torch.cat(codes) if codes else empty.reshape(0, z_dim)
    try:
        pm, pv = model.prior()
        obs.records[NOISE_PM], obs.records[NOISE_PV] = pm.detach().double(), pv.detach().double()
    except Exception:  # a model without a Gaussian prior: nothing to compare with
        pass


def judge_noise(name: str, obs: Observation) -> None:
    """The codes an objective decodes must be ``z = m + sqrt(v) * eps`` with ``eps ~ N(0, I)``.

    ``(z - m) / sqrt(v)`` (recorded by :func:`standard_noise`) must have mean 0 and variance 1 (within
    :data:`STANDARD_ERRORS` standard errors) and differ between calls and between images. Needs no
    reference: it catches a sample with the wrong spread, the mean in place of a sample, and shared noise,
    whatever the shape of the decoder's input.
    """
    r = obs.records
    batch, z_dim = (int(k) for k in r[NOISE_SHAPE].tolist())
    noise = list(torch.split(r[NOISE], r[NOISE_LENGTHS].tolist())) if r[NOISE_LENGTHS].numel() else []
    if not noise:
        raise CheckFailed(
            f"{name} never decoded codes z of the encoder's shape {(batch, z_dim)}: decode the "
            "sample z ~ q(z|x) with model.decode(z)."
        )
    _check_fresh_noise(name, noise, batch, z_dim)
    e = r[NOISE].double()
    n, mean, var = e.numel(), e.mean().item(), e.var().item()
    if abs(mean) <= STANDARD_ERRORS / math.sqrt(n) and abs(var - 1) <= STANDARD_ERRORS * math.sqrt(2 / n):
        return
    v = r[NOISE_V].double()
    hint = "Sample z = m + sqrt(v) * eps with eps ~ N(0, I) drawn afresh at every call."
    if _from_prior(r.get(NOISE_PM), r.get(NOISE_PV), r[NOISE_CODES].double()):
        hint = (
            "The codes are drawn from the prior p(z), not from the encoder's posterior q(z|x) = N(m, v): sample "
            "z = m + sqrt(v) * eps with the encoder's m and v."
        )
    elif var < 1e-12:
        hint = "z is the encoder mean, not a sample: draw z = m + sqrt(v) * eps with fresh noise at every call."
    elif abs(var - v.mean().item()) < 0.1 * v.mean().item():
        hint = "The noise is scaled by the variance v; scale it by the standard deviation: z = m + sqrt(v) * eps."
    elif abs(var - (1 / v).mean().item()) < 0.1 * (1 / v).mean().item():
        hint = "The noise is not scaled: z = m + sqrt(v) * eps, not m + eps."
    raise CheckFailed(
        f"{name}: the codes it decodes are not draws from q(z|x): (z - m) / sqrt(v) has mean {mean:.3f} and "
        f"variance {var:.3f} over {n} values, expected 0 and 1. {hint}"
    )
