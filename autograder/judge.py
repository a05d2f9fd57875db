"""Trusted judging: the test cells' observations, judged in the grader's process.

A hidden test cell does not judge the answer in the student's kernel: it observes it on the grading
inputs and sends the observation as plain data (`vaelab.checks.grading`, `vaelab.checks.wire`);
`execute.GuardedExecute` keeps it out of the notebook and writes it to a file the sandbox cannot see.
This module, in the grader's process, where the reference answers live, decodes each observation
(bounded, typed: `wire.decode`) and judges it with the exercise's check (`vaelab.checks.graded`)
against the expected observations of the chapter, computed once per batch (`record_expected`).

A test cell passes only when every observation it sent is valid, is of its own exercise and is
judged right; a cell that sent none fails. When an objective fails and a helper of its chapter that
it may call fails its own test (`log_mean_exp` for the IWAE bound, say), the runner observes the
notebook again with the helper's reference substituted (`wrong_helpers`, `again`): a mistake costs
only its own function's points. That second run's sandbox holds the helpers' reference code (not
the objective's), for a student who has already lost the helper's points; what it shows the
student is one verdict per objective, with no number of its run.

This is the only grading module that imports `vaelab`: it never runs student code.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from nbgrader import utils as nbgrader_utils

from vaelab.chapters import STUB
from vaelab.checks.engine import CheckFailed
from vaelab.checks.graded import GRADING_OFFSET, check
from vaelab.checks.grading import SUBSTITUTES, helpers_of
from vaelab.checks.inputs import offset
from vaelab.checks.observe import Expectation, LiveExpectations, Observation
from vaelab.checks.wire import BadObservation, decode
from vaelab.reference.checks.visible import reference_and_mistakes

from .files import read_regular, write_atomic
from .report import Judgement

#: SUBSTITUTES: the kernel's variable that names the reference helpers of a second run
#: (`runner.observe_again`), re-exported for the runner, which does not import vaelab.
__all__ = [
    "SUBSTITUTES",
    "Judge",
    "Observed",
    "again",
    "observed_cells",
    "read_observations",
    "record_expected",
    "second_runs",
    "unwritten",
    "wrong_helpers",
]

#: How a hidden test cell names the exercise it observes.
OBSERVE_CALL = re.compile(r"""\bobserve\(\s*["'](\d\d_[a-z]+/[a-z_]+)["']""")
#: The largest observations file read (`execute.MAX_OBSERVATION_CHARS` per cell, a few cells).
MAX_OBSERVATION_FILE = 512 << 20
#: The longest message kept.
MESSAGE_CHARS = 4000


def observed_cells(cells) -> dict[str, str]:
    """`{test cell's grade_id: check id}` of the cells of a source notebook that call `observe`."""
    found = {}
    for cell in cells:
        grade_id = (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id")
        match = OBSERVE_CALL.search(cell.get("source", ""))
        if cell.get("cell_type") == "code" and grade_id and match:
            found[grade_id] = match.group(1)
    return found


def record_expected(check_ids: list[str], path: Path) -> None:
    """Writes the reference's observations of `check_ids` on the grading inputs to `path`, for the
    batch's workers (`BatchExpectations`, which adds the known mistakes' when a wrong answer first
    needs one named)."""
    plain = {}
    with offset(GRADING_OFFSET):
        for check_id in check_ids:
            graded = check(check_id)
            if graded.verdict is not None:  # judged by its statistics alone
                continue
            reference, _ = reference_and_mistakes(check_id)
            plain[check_id] = graded.observe(reference).to_plain()
    torch.save(plain, path)


class BatchExpectations:
    """The expected observations of a batch (`get(check_id, probe)`, as `vaelab.checks.observe`'s
    providers): the reference's, from `record_expected`'s file; the catalogue's mistakes', computed
    on the grading inputs only when a wrong answer is to be named (most answers are right, and the
    mistakes cost four fifths of the time), then kept beside that file for the batch's other workers."""

    def __init__(self, path: Path):
        self.path = path
        self._plain = torch.load(path, weights_only=True)

    def get(self, check_id: str, probe) -> Expectation:
        return Expectation(Observation.from_plain(self._plain[check_id]), _Later(lambda: self.mistakes(check_id)))

    def mistakes(self, check_id: str) -> list[tuple[str, Observation]]:
        kept = self.path.with_name(f"{self.path.stem}.{check_id.replace('/', '.')}.mistakes.pt")
        if kept.exists():
            return [(message, Observation.from_plain(obs)) for message, obs in torch.load(kept, weights_only=True)]
        with offset(GRADING_OFFSET):
            found = LiveExpectations().get(check_id, check(check_id).observe).mistakes
        buffer = io.BytesIO()
        torch.save([(message, obs.to_plain()) for message, obs in found], buffer)
        write_atomic(kept, buffer.getvalue())  # another worker reads it whole or not at all
        return found


class _Later:
    """A list computed when it is first read."""

    def __init__(self, compute):
        self._compute, self._items = compute, None

    def __iter__(self):
        if self._items is None:
            self._items = list(self._compute())
        return iter(self._items)


@dataclass
class Observed:
    """One observation a test cell sent, decoded (`problem`: why it could not be)."""

    check_id: str = ""
    observation: Observation | None = None
    calls: dict[str, int] | None = None
    problem: str = ""


def read_observations(path: Path) -> dict[str, list[Observed]]:
    """The observations in the file `GuardedExecute` wrote, by test cell (bounded, no link followed)."""
    found: dict[str, list[Observed]] = {}
    if not path.exists():
        return found
    for line in read_regular(path, MAX_OBSERVATION_FILE).decode("utf-8").splitlines():
        record = json.loads(line)  # written by the grader: {"cell": grade_id, "observation": ...}
        data = record["observation"]
        try:
            if isinstance(data, dict) and "refused" in data:
                raise BadObservation(str(data["refused"]))
            observed = Observed(*decode(data))
        except BadObservation as error:
            observed = Observed(problem=str(error))
        except Exception as error:  # anything decode did not foresee is this cell's failure, never the batch's
            observed = Observed(problem=f"{type(error).__name__}: {str(error)[:200]}")
        found.setdefault(record["cell"], []).append(observed)
    return found


class Judge:
    """Judges one chapter's observations against `expected` (`record_expected`'s file)."""

    def __init__(self, expected: Path):
        self.provider = BatchExpectations(expected)

    def judge_all(self, observed: dict[str, list[Observed]], cells: dict[str, str]) -> list[Judgement]:
        """A `Judgement` for every test cell of `cells` (`{grade_id: check id}`)."""
        verdicts = [(grade_id, self.cell(check_id, observed.get(grade_id, []))) for grade_id, check_id in cells.items()]
        return [Judgement(g, v is None, (v or "")[:MESSAGE_CHARS]) for g, v in verdicts]

    def cell(self, check_id: str, sent: list[Observed]) -> str | None:
        """None when every observation in `sent` is right, else the message of the first that is not."""
        if not sent:
            return "no observation of this test reached the grader: the cell did not finish"
        for observed in sent:
            if observed.problem:
                return f"the grader could not read what this test sent ({observed.problem}): no points"
            if observed.check_id != check_id:
                return f"this test sent an observation of {observed.check_id}, not of {check_id}: no points"
            message = self.one(check_id, observed.observation)
            if message is not None:
                return message
        return None

    def one(self, check_id: str, observation: Observation) -> str | None:
        graded = check(check_id)
        try:
            with offset(GRADING_OFFSET):
                graded.judge(observation, self.provider)
        except CheckFailed as failure:
            return str(failure)
        except Exception as error:  # a check that cannot use the observation: the answer's fault, say so
            cause = f"{type(error).__name__}: {error}"
            return f"{graded.name}: the grader could not judge what the answer returned ({cause})"
        return None


def unwritten(nb) -> set[str]:
    """The grade_ids of the answer code cells of the notebook `nb` that still hold the stub."""
    return {
        cell.metadata["nbgrader"]["grade_id"]
        for cell in nb.cells
        if cell.cell_type == "code" and nbgrader_utils.is_solution(cell) and STUB in cell.source
    }


def wrong_helpers(
    judgements: list[Judgement], cells: dict[str, str], observed: dict[str, list[Observed]], unwritten: set[str]
) -> dict[str, tuple[str, ...]]:
    """`{grade_id: helpers}` of the failed test cells whose exercise calls helpers of its chapter
    (`grading.helpers_of`) that fail their own test in the same notebook: those cells are observed
    again with correct helpers (`again`), so that a mistake costs only its own points. Left out: an
    exercise still unwritten (`unwritten`: its answer cell is the stub), and one whose observations
    show it never called the failing helpers (its failure is its own). An exercise that sent no
    observation (it raised, maybe inside a helper) is observed again."""
    failed = {cells[j.grade_id].split("/")[1] for j in judgements if not j.passed}
    found = {}
    for j in judgements:
        name = cells[j.grade_id].split("/")[1]
        helpers = tuple(h for h in helpers_of(cells[j.grade_id]) if h in failed)
        if j.passed or not helpers or name in unwritten:
            continue
        sent = [o for o in observed.get(j.grade_id, []) if o.calls is not None]
        if sent and not any(o.calls.get(h) for o in sent for h in helpers):
            continue
        found[j.grade_id] = helpers
    return found


def second_runs(helpers: dict[str, tuple[str, ...]]) -> dict[tuple[str, ...], list[str]]:
    """The second runs to make: `{reference helpers: the cells judged in that run}`. A cell is judged
    only in a run that provides its own failing helpers, which come before it in the chapter, so no
    run holds the reference of a cell it judges."""
    runs: dict[tuple[str, ...], list[str]] = {}
    for grade_id, names in helpers.items():
        runs.setdefault(tuple(sorted(names)), []).append(grade_id)
    return runs


def again(first: list[Judgement], second: list[Judgement], helpers: dict[str, tuple[str, ...]]) -> list[Judgement]:
    """The verdicts of a notebook observed twice: a cell that failed the first time and passes with
    correct helpers (`second`) earns its points, with a message that names the helpers to fix."""
    passed = {j.grade_id for j in second if j.passed}
    merged = []
    for j in first:
        if j.grade_id in passed:
            names = ", ".join(helpers[j.grade_id])
            name = j.grade_id.removeprefix("test_")
            note = f"{name} is right when it calls a correct {names}; yours fails its own test (see there)"
            merged.append(Judgement(j.grade_id, True, note, restored=True))
        else:
            merged.append(j)
    return merged
