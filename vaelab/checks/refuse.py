"""The grader refuses an answer that runs the reference implementation of its own exercise; so does the
visible check, wherever that reference is installed (the instructor's source, a handout's ``--solved``
chapters), with the grader's words: the self-check then says what the grade will say.

In a student handout without the reference there is nothing to call, and nothing is checked.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .engine import CheckFailed, calls_reference, refusal


def _small_args(check_id: str) -> tuple:
    """Small inputs on which the exercise ``check_id`` is called once to see whether it runs the reference."""
    from . import ch01, ch02, ch03, ch04, ch05
    from .probes import FixedLogits

    z, one = torch.zeros(2, 3), torch.ones(2, 3)
    q = torch.full((2, 4), 0.25)
    builders: dict[str, Callable[[], tuple]] = {
        "01_vae/sample_gaussian": lambda: (z, one),
        "01_vae/log_normal": lambda: (z, z, one),
        "01_vae/kl_normal": lambda: (z, one, z, one),
        "01_vae/log_bernoulli_with_logits": lambda: (z, z),
        "01_vae/negative_elbo_bound": lambda: (*ch01._vae_inputs(), 1.0),
        "02_gmvae/log_normal_mixture": lambda: (z, torch.zeros(1, 4, 3), torch.ones(1, 4, 3)),
        "02_gmvae/negative_elbo_bound": ch02._gmvae_inputs,
        "03_iwae/duplicate": lambda: (z, 2),
        "03_iwae/log_mean_exp": lambda: (z, 0),
        "03_iwae/negative_iwae_bound": lambda: (*ch03._iwae_inputs(), 3),
        "04_ssvae/kl_cat": lambda: (q, q.log(), q.log()),
        "04_ssvae/negative_elbo_bound": ch04._ssvae_inputs,
        "04_ssvae/classification_loss": lambda: (
            FixedLogits(torch.zeros(2, 10)),
            torch.zeros(2, 4),
            F.one_hot(torch.tensor([1, 2]), 10).float(),
        ),
        "05_fsvae/negative_elbo_bound": ch05._fsvae_inputs,
        "05_fsvae/sample_grid": lambda: (ch05.small_fsvae(), 3, None),
    }
    return builders[check_id]()


def installed_reference(check_id: str) -> Callable | None:
    """The reference implementation of the exercise, or None where it is not installed."""
    chapter, name = check_id.split("/")
    try:
        module = importlib.import_module(f"vaelab.reference.ch{chapter[:2]}")
    except ModuleNotFoundError:
        return None
    return getattr(module, name, None)


def refuse_reference(check_id: str, fn: Callable) -> None:
    """Raise :class:`CheckFailed` with the grader's message when ``fn`` runs the reference of its exercise."""
    reference = installed_reference(check_id)
    if reference is None or not hasattr(reference, "__code__"):
        return
    with torch.random.fork_rng():  # the extra call leaves the notebook's random state as it was
        if calls_reference(fn, reference, *_small_args(check_id)):
            raise CheckFailed(refusal(check_id.split("/")[1], reference))


def refusing(check_id: str, check: Callable[[Callable], None]) -> Callable[[Callable], None]:
    """``check`` that first refuses an answer running the reference (as the grader does)."""

    @functools.wraps(check)
    def wrapped(fn: Callable) -> None:
        if os.environ.get("NBGRADER_EXECUTION") == "autograde":
            # While the grader runs the notebook, the hidden part of the same cell observes the answer
            # and the grader judges it outside the sandbox, where the expected values are.
            return None
        refuse_reference(check_id, fn)
        return check(fn)

    return wrapped
