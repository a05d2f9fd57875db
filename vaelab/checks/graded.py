"""The graded checks: every exercise's check as *observe in the kernel, judge outside*.

A :class:`Check` splits a check in two. ``observe(fn)`` runs where the student's code runs (the
sandboxed kernel): it calls the function on the probe's inputs and records plain tensors in an
:class:`~vaelab.checks.observe.Observation`, raising :class:`CheckFailed` only where the function
itself raises or returns something that cannot be observed. ``judge(got, provider)`` runs where the
reference lives (the grader's process): either a reference-free ``verdict`` on the recorded arrays
(``sample_gaussian``, ``sample_grid``), or the comparison with the reference's observation through
``provider.get(check_id, observe)``, after the probe's own reference-free ``screen`` (the decoded
noise of the objectives). The visible checks of the notebooks are the same Checks, run in one
process by :func:`run_check`, so the two say the same thing in the same words.

Grading draws other inputs than the visible checks: observe and judge both under
``with offset(GRADING_OFFSET):`` (:mod:`vaelab.checks.inputs`), in each process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .engine import _report
from .observe import Observation, expectations, judge

__all__ = ["Check", "CHECK_IDS", "GRADING_OFFSET", "check", "run_check"]

#: The seed offset of the graded inputs (a prime far from every seed the visible checks use).
GRADING_OFFSET = 1_000_003

#: Every exercise, in the order of :data:`vaelab.checks.VISIBLE`.
CHECK_IDS: tuple[str, ...] = (
    "01_vae/sample_gaussian",
    "01_vae/log_normal",
    "01_vae/kl_normal",
    "01_vae/log_bernoulli_with_logits",
    "01_vae/negative_elbo_bound",
    "02_gmvae/log_normal_mixture",
    "02_gmvae/negative_elbo_bound",
    "03_iwae/duplicate",
    "03_iwae/log_mean_exp",
    "03_iwae/negative_iwae_bound",
    "04_ssvae/kl_cat",
    "04_ssvae/negative_elbo_bound",
    "04_ssvae/classification_loss",
    "05_fsvae/negative_elbo_bound",
    "05_fsvae/sample_grid",
)


@dataclass(frozen=True)
class Check:
    """One exercise's check, in its two halves.

    Attributes:
        check_id: ``"chapter/function"``, e.g. ``"01_vae/kl_normal"``.
        observe: ``observe(fn) -> Observation``, run in the kernel; builds its inputs when it runs.
        hints: :func:`~vaelab.checks.observe.judge`'s hints, for checks against expected values.
        verdict: ``verdict(obs)``, for checks judged from the observation alone (statistics).
        reported: the number of checks a verdict check's ✓ line reports.
    """

    check_id: str
    observe: Callable[[Callable], Observation]
    hints: Callable | None = None
    verdict: Callable[[Observation], None] | None = None
    reported: int = 1

    @property
    def name(self) -> str:
        return self.check_id.split("/")[1]

    def judge(self, got: Observation, provider=None) -> None:
        """Raise :class:`CheckFailed` (with the visible check's message) unless ``got`` is right.

        ``provider`` gives the reference's observations (``get(check_id, probe)``); the default is
        :func:`~vaelab.checks.observe.expectations`. A verdict check needs none.
        """
        if self.verdict is not None:
            self.verdict(got)
            return
        screen = getattr(self.observe, "screen", None)
        if screen is not None:  # reference-free verdicts on the records, before the expected values
            screen(got)
        provider = expectations() if provider is None else provider
        judge(self.name, got, provider.get(self.check_id, self.observe), self.hints)


def check(check_id: str) -> Check:
    """The :class:`Check` of ``check_id`` (its inputs are built when its ``observe`` runs)."""
    from . import ch01, ch02, ch03, ch04, ch05

    builders: dict[str, Callable[[], Check]] = {
        "01_vae/sample_gaussian": ch01.sample_gaussian_check,
        "01_vae/log_normal": ch01.log_normal_check,
        "01_vae/kl_normal": ch01.kl_normal_check,
        "01_vae/log_bernoulli_with_logits": ch01.log_bernoulli_check,
        "01_vae/negative_elbo_bound": ch01.vae_check,
        "02_gmvae/log_normal_mixture": ch02.log_normal_mixture_check,
        "02_gmvae/negative_elbo_bound": ch02.gmvae_check,
        "03_iwae/duplicate": ch03.duplicate_check,
        "03_iwae/log_mean_exp": ch03.log_mean_exp_check,
        "03_iwae/negative_iwae_bound": ch03.iwae_check,
        "04_ssvae/kl_cat": ch04.kl_cat_check,
        "04_ssvae/negative_elbo_bound": ch04.ssvae_check,
        "04_ssvae/classification_loss": ch04.classification_check,
        "05_fsvae/negative_elbo_bound": ch05.fsvae_check,
        "05_fsvae/sample_grid": ch05.sample_grid_check,
    }
    if check_id not in builders:
        raise KeyError(f"no graded check {check_id!r}; the checks are {', '.join(CHECK_IDS)}")
    return builders[check_id]()


def run_check(chk: Check, fn: Callable) -> None:
    """The visible check: observe ``fn``, judge it in the same process, print ✓ (or raise)."""
    from .objective import ObjectiveProbe, run_objective
    from .pure import CasesProbe

    if isinstance(chk.observe, ObjectiveProbe):
        run_objective(chk, fn)  # with its helpers' logic (a failing helper is named, or replaced)
        return
    got = chk.observe(fn)
    chk.judge(got, None if chk.verdict is not None else expectations())
    _report(chk.name, len(chk.observe.cases()) if isinstance(chk.observe, CasesProbe) else chk.reported)
