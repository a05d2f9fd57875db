"""Probes of functions of tensors (``log_normal``, ``kl_cat``, ``duplicate``, ...): outputs and
gradients on fixed cases, and the hints that explain a difference.

A :class:`~vaelab.checks.engine.Case` holds the arguments; the probe records, for each case, the
output and the gradient of a weighted sum of the output with respect to every floating-point
tensor argument.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .engine import Case, CheckFailed, _call
from .observe import Observation, fingerprint

GRADIENT = "gradient with respect to argument"
HAS_GRADIENT = "the output has a gradient"


def _weights(out: torch.Tensor) -> torch.Tensor:
    return torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype, device=out.device).reshape(out.shape)


def _fresh(args: tuple, grad: bool) -> tuple:
    return tuple(
        a.detach().clone().requires_grad_(grad and a.is_floating_point()) if isinstance(a, torch.Tensor) else a
        for a in args
    )


class CasesProbe:
    """``probe(fn) -> Observation`` with the output of ``fn`` on each case, and its gradients.

    ``cases`` is a list of :class:`~vaelab.checks.engine.Case` or a function that builds it, called
    when the probe runs (so that the cases are drawn under the :func:`~vaelab.checks.inputs.offset`
    in force then). ``wrap(fn)``, when given, is the form in which ``fn`` is called on the cases'
    arguments (for example ``kl_cat`` as a function of logits, so that gradients flow through ``q``
    and ``log q``).
    """

    def __init__(self, name: str, cases: Sequence[Case] | Callable[[], Sequence[Case]], wrap: Callable | None = None):
        self.name, self._cases, self.wrap = name, cases, wrap

    def cases(self) -> list[Case]:
        return list(self._cases() if callable(self._cases) else self._cases)

    def __call__(self, fn: Callable) -> Observation:
        fn = self.wrap(fn) if self.wrap is not None else fn
        cases = self.cases()
        tensors = [a for case in cases for a in case.args if isinstance(a, torch.Tensor)]
        obs = Observation(inputs=fingerprint(*tensors))
        try:
            for case in cases:
                self._observe_case(fn, case, obs)
        except CheckFailed as error:  # the function raised: name the usual shape mistakes too
            raise CheckFailed(f"{error}{shape_hint(str(error))}") from None
        return obs

    def _observe_case(self, fn: Callable, case: Case, obs: Observation) -> None:
        args = _fresh(case.args, case.grad)
        out = _call(fn, self.name, args)
        if not isinstance(out, torch.Tensor):
            raise CheckFailed(
                f"{self.name} on {case.description} returned {type(out).__name__}, expected a torch.Tensor."
            )
        obs.values[case.description] = out.detach()
        inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        if not inputs:
            return
        obs.values[f"{case.description}: {HAS_GRADIENT}"] = torch.tensor(float(out.requires_grad))
        if not out.requires_grad:
            return
        finite = torch.isfinite(out.detach())
        grads = torch.autograd.grad((out * _weights(out))[finite].sum(), inputs, allow_unused=True)
        for i, (a, g) in enumerate(zip(inputs, grads)):
            obs.values[f"{case.description}: {GRADIENT} {i + 1}"] = (torch.zeros_like(a) if g is None else g).detach()


def cases_probe(
    name: str, cases: Sequence[Case] | Callable[[], Sequence[Case]], wrap: Callable | None = None
) -> CasesProbe:
    """The :class:`CasesProbe` of ``name`` on ``cases`` (a list, or a function that builds it)."""
    return CasesProbe(name, cases, wrap)


def _constant_ratio(got: torch.Tensor, want: torch.Tensor) -> float | None:
    """The common ratio of two non-scalar tensors of the same shape, if there is one (and it is not 1)."""
    if want.numel() < 2 or got.shape != want.shape or not (want.abs() > 1e-6).all():
        return None
    r = got.double().flatten() / want.double().flatten()
    if torch.allclose(r, r[0].expand_as(r), rtol=1e-3) and abs(r[0].item() - 1) > 1e-3:
        return r[0].item()
    return None


def pure_hints(near_miss: str = "", otherwise: str = "") -> Callable[[str, Observation, Observation], str]:
    """Hints for a case whose output differs: shapes, instability, a constant factor, a near miss, else
    ``otherwise``."""

    def hints(where: str, got: Observation, want: Observation) -> str:
        return _hint(where, got, want) or otherwise

    def _hint(where: str, got: Observation, want: Observation) -> str:
        g, w = got.values.get(where), want.values[where]
        if where.endswith(HAS_GRADIENT):
            return (
                "The output does not depend on the inputs through autograd (no gradient). Avoid .detach(), "
                ".item(), numpy and torch.no_grad() inside the function."
            )
        if GRADIENT in where:
            return (
                "The values are right but this gradient is wrong or not finite: an unstable formula (clamping, log of "
                "a sigmoid, log of a sum of exponentials) often shows up here first."
            )
        if g is None:
            return ""
        if g.shape != w.shape:
            if g.dim() == w.dim() + 1:
                return "Did you forget to sum over the last dimension?"
            if g.dim() == 0 and w.dim() > 0:
                return "Did you sum or average over the batch too? Keep the batch dimensions."
            return ""
        if not torch.isfinite(g).all() and torch.isfinite(w).all():
            return (
                "The answer is finite but yours is inf or nan: the computation is numerically unstable (exp "
                "overflows to inf or underflows to 0, and a log of 0 is -inf: avoid log(sigmoid(.)), "
                "log(sum(exp(.))) without subtracting the maximum, log of a probability that can be 0, and "
                "clamping; use logsumexp, softplus, log_softmax or binary_cross_entropy_with_logits)."
            )
        ratio = _constant_ratio(g, w)
        if ratio is not None:
            return f"Every value is {ratio:.4g} times the expected one: look for a missing or extra constant factor."
        err = (g.double() - w.double()).abs().max().item()
        if near_miss and err / (w.double().abs().max().item() + 1e-12) < 1e-2:
            return near_miss
        return ""

    return hints


def shape_hint(message: str) -> str:
    """A hint for the usual shape errors of PyTorch, from the message of a function that raised."""
    if " raised " not in message:
        return ""
    if "must match the size of tensor" in message:
        return (
            ". The shapes do not broadcast: give each tensor the axes it needs (unsqueeze, keepdim=True) and reduce "
            "over the dimension the exercise names."
        )
    if "to match target batch_size" in message:
        return ". The targets must hold one label per image: take the argmax of y over its last dimension (the labels)."
    return ""


def check_cases(
    check_id: str,
    fn: Callable,
    cases: Sequence[Case] | Callable[[], Sequence[Case]],
    near_miss: str = "",
    wrap: Callable | None = None,
    otherwise: str = "",
) -> int:
    """Compare ``fn`` with the expected observation of ``check_id`` on ``cases``; print ✓ and return
    the number of cases, or raise :class:`CheckFailed` naming the likely mistake."""
    from .graded import run_check

    chk = cases_check(check_id, cases, near_miss, wrap, otherwise)
    run_check(chk, fn)
    return len(chk.observe.cases())


def cases_check(
    check_id: str,
    cases: Sequence[Case] | Callable[[], Sequence[Case]],
    near_miss: str = "",
    wrap: Callable | None = None,
    otherwise: str = "",
):
    """The :class:`~vaelab.checks.graded.Check` of a function of tensors: its cases and its hints."""
    from .graded import Check

    return Check(check_id, cases_probe(check_id.split("/")[-1], cases, wrap), pure_hints(near_miss, otherwise))
