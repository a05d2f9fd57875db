"""A batch is durable and parallel: re-runs keep what is graded, `kill -9` loses nothing, and
`--jobs N` gives the same grades as one at a time (toy chapter, five files: one not JSON)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import toy_class

from autograder import testing

REPO = Path(__file__).resolve().parent.parent
TOY, CHAPTER = toy_class.TOY, toy_class.CHAPTER
OUTPUTS = ("grades.csv", "scores_by_function.csv")


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> Path:
    return toy_class.write_class(tmp_path_factory.mktemp("class") / "in")


@pytest.fixture(scope="module")
def serial(submissions, tmp_path_factory) -> Path:
    """The reference: one uninterrupted run, one submission at a time."""
    out = tmp_path_factory.mktemp("serial") / "out"
    testing.run_grade(submissions, out, TOY, timeout=60, options=("--jobs", "1"))
    return out


def outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


def results(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "results").rglob("*")) if p.is_file()}


def test_a_rerun_keeps_every_result_and_changes_nothing(serial, submissions):
    before, stored = outputs(serial), results(serial)
    assert len(stored) == 5 and not [p for p in stored if ".tmp" in p]
    _, _, printed = testing.run_grade(submissions, serial, TOY, timeout=60)
    assert printed.count("unchanged, kept") == 5
    assert "(5 unchanged since the last run, kept)" in printed
    assert outputs(serial) == before and results(serial) == stored


def test_a_changed_submission_is_regraded(serial, submissions, tmp_path):
    copy = shutil.copytree(submissions, tmp_path / "in")
    source = testing.read_notebook(TOY / f"{CHAPTER}.ipynb")
    testing.write_submissions(copy, {"bob": {CHAPTER: testing.make_submission(source)}})
    out = tmp_path / "out"
    shutil.copytree(serial / "results", out / "results")
    grades, _, printed = testing.run_grade(copy, out, TOY, timeout=60)
    assert printed.count("unchanged, kept") == 4
    assert grades["bob", CHAPTER]["score"] == "5"  # regraded: bob answered this time


def _graders(out: Path) -> list[int]:
    """The processes whose command line names `out` (the batch and its workers)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(out).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def test_kill_9_in_the_middle_then_a_rerun_gives_the_same_grades(serial, submissions, tmp_path):
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        str(submissions),
        "--out",
        str(out),
        "--solutions",
        str(TOY),
        "--timeout",
        "60",
        "--jobs",
        "1",
    ]
    (tmp_path / "tmp").mkdir()  # what the killed batch leaves behind stays in tmp_path
    batch = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path / "tmp")},
    )
    deadline = time.monotonic() + 120
    while len(list(out.glob("results/*/*.json"))) < 2:  # the invalid file, then a graded one
        assert batch.poll() is None, "the batch ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    batch.send_signal(signal.SIGKILL)
    batch.wait()
    assert not (out / "grades.csv").exists()
    for _ in range(100):  # the worker and its kernel die with the batch
        if not _graders(out):
            break
        time.sleep(0.1)
    assert not _graders(out)

    _, _, printed = testing.run_grade(submissions, out, TOY, timeout=60, options=("--jobs", "2"))
    assert printed.count("unchanged, kept") >= 2
    assert outputs(out) == outputs(serial)  # nothing lost, nothing doubled
    assert len(testing.read_csv(out / "grades.csv")) == 5


def test_jobs_2_gives_the_same_grades_as_jobs_1(serial, submissions, tmp_path):
    grades, _, printed = testing.run_grade(submissions, tmp_path / "out", TOY, timeout=60, options=("--jobs", "2"))
    assert "2 at a time" in printed
    assert outputs(tmp_path / "out") == outputs(serial)
    assert (grades["ada", CHAPTER]["score"], grades["cy", CHAPTER]["score"]) == ("5", "2")
