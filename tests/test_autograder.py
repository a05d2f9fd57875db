"""Tests of `python -m autograder` (release, grade, book) on the toy chapter in tests/fixtures/toy.

The toy source notebook follows the conventions of the real chapters: answer cells `add` and
`square`, test cells `test_add` (2 points) and `test_square` (3 points) with visible checks and
hidden tests whose assertion messages teach, a written question `question_symmetry` (1 point,
graded by hand), and a cell that prints the mode ("fast" under `VAELAB_FAST=1` or nbgrader).
The helpers of `autograder.testing` serve the end-to-end tests of the real chapters as well.
"""

from __future__ import annotations

import copy
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import book, testing
from autograder.cli import main
from autograder.notebooks import leaked_lines

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "fixtures" / "toy" / "solutions"
CHAPTER = "00_toy"
#: What nbgrader would leave behind if it ran in the current directory instead of its own.
NBGRADER_ARTEFACTS = ("gradebook.db", "source", "release", "submitted", "autograded", "feedback")


def tree_hash(root: Path) -> str:
    """A hash of the paths and bytes of every file under `root`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def source():
    return testing.read_notebook(TOY / f"{CHAPTER}.ipynb")


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """The folder of student notebooks released from the toy solutions."""
    chapters = tmp_path_factory.mktemp("chapters")
    assert main(["release", "--solutions", str(TOY), "--chapters", str(chapters)]) == 0
    return chapters


def test_release_writes_the_student_view(released, source):
    student = testing.read_notebook(released / f"{CHAPTER}.ipynb")
    text = (released / f"{CHAPTER}.ipynb").read_text()
    assert "raise NotImplementedError()" in text and "YOUR ANSWER HERE" in text
    assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    assert "add(1, 2) should be 3" in text  # visible checks stay
    assert leaked_lines(source, student) == []
    assert all(not cell.get("outputs") for cell in student.cells)
    assert "version" not in student.metadata.language_info  # volatile metadata is dropped
    assert text.endswith("}\n") and text.startswith('{\n "cells": [\n  {\n')


def test_release_is_deterministic_and_check_detects_drift(released, tmp_path, capsys):
    before = tree_hash(TOY)
    again = tmp_path / "again"
    assert main(["release", "--solutions", str(TOY), "--chapters", str(again)]) == 0
    assert (again / f"{CHAPTER}.ipynb").read_bytes() == (released / f"{CHAPTER}.ipynb").read_bytes()
    assert main(["release", "--solutions", str(TOY), "--chapters", str(again), "--check"]) == 0

    with open(again / f"{CHAPTER}.ipynb", "a") as file:
        file.write(" ")
    (again / "99_stale.ipynb").write_text("{}")
    capsys.readouterr()
    assert main(["release", "--solutions", str(TOY), "--chapters", str(again), "--check"]) == 1
    printed = capsys.readouterr().out
    assert f"{CHAPTER}.ipynb differs" in printed and "99_stale.ipynb has no source" in printed
    assert (again / f"{CHAPTER}.ipynb").read_bytes().endswith(b" ")  # --check writes nothing
    assert tree_hash(TOY) == before


def with_copied_cell(nb, grade_id, first_source):
    """`nb` where the student copied the cell `grade_id` (metadata included, as Jupyter does)
    and put `first_source` in the first copy."""
    nb = copy.deepcopy(nb)
    index = next(i for i, cell in enumerate(nb.cells)
                 if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    first = copy.deepcopy(nb.cells[index])
    first.id, first.source = "copied-cell", first_source
    nb.cells.insert(index, first)
    return nb


@pytest.fixture(scope="module")
def graded(released, source, tmp_path_factory):
    """One batch of submissions, graded from the repository root with fast mode unset."""
    work = tmp_path_factory.mktemp("grade")
    answer = testing.make_submission(source)
    submissions = testing.write_submissions(work / "in", {
        "ref": {CHAPTER: answer},
        "blank": {CHAPTER: (released / f"{CHAPTER}.ipynb").read_bytes()},
        "mistake": {CHAPTER: testing.make_submission(
            source, {"square": "def square(x):\n    return abs(x) * x"})},
        "deleter": {CHAPTER: testing.without_cells(answer, "test_square")},
        "sleepy": {CHAPTER: testing.make_submission(
            source, {"add": "import time\ndef add(a, b):\n    time.sleep(60)\n    return a + b"})},
        "badjson": {CHAPTER: '{"cells": [oops'},
        "oldformat": {CHAPTER: '{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, '
                               '"worksheets": []}'},
        "misnamed": {"01_toy_final": answer},
        "copier": {CHAPTER: with_copied_cell(answer, "square", "def square(x):\n    return -1")},
        "crasher": {CHAPTER: testing.make_submission(source, {"add": "import os\nos._exit(1)"})},
    })
    inputs = {path: tree_hash(path) for path in (TOY, submissions, released)}
    artefacts = {name for name in NBGRADER_ARTEFACTS if (REPO / name).exists()}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        patch.delenv("VAELAB_FAST", raising=False)
        patch.delenv("NBGRADER_EXECUTION", raising=False)
        grades, cells, printed = testing.run_grade(submissions, work / "out", TOY, timeout=5)
        environment_after = dict(os.environ)
    return {"grades": grades, "cells": cells, "printed": printed, "out": work / "out",
            "inputs": inputs, "artefacts": artefacts, "environment_after": environment_after}


def test_reference_answers_get_full_marks(graded):
    row = graded["grades"]["ref", CHAPTER]
    assert (row["status"], row["score"], row["max_score"], row["manual_max"]) == (
        "graded", "5", "5", "1")
    assert graded["cells"]["ref", CHAPTER, "test_add"]["score"] == "2"
    assert graded["cells"]["ref", CHAPTER, "test_square"]["score"] == "3"
    # the written answer waits for a human grader
    question = graded["cells"]["ref", CHAPTER, "question_symmetry"]
    assert (question["kind"], question["score"], question["max_score"]) == ("manual", "", "1")


def test_untouched_notebook_gets_zero(graded):
    row = graded["grades"]["blank", CHAPTER]
    assert (row["status"], row["score"], row["max_score"]) == ("graded", "0", "5")
    assert graded["cells"]["blank", CHAPTER, "question_symmetry"]["score"] == "0"  # no response


def test_one_mistake_loses_that_function_only_and_the_feedback_teaches(graded):
    row = graded["grades"]["mistake", CHAPTER]
    assert (row["status"], row["score"], row["message"]) == ("graded", "2", "failed: test_square")
    assert graded["cells"]["mistake", CHAPTER, "test_add"]["score"] == "2"
    assert graded["cells"]["mistake", CHAPTER, "test_square"]["score"] == "0"
    feedback = testing.feedback(graded["out"], "mistake", CHAPTER)
    assert "square(-2) returned -4, expected 4: a square is never negative" in feedback
    assert "AssertionError" in feedback


def test_broken_files_are_reported_without_stopping_the_batch(graded):
    grades = graded["grades"]
    assert grades["badjson", CHAPTER]["status"] == "invalid"
    assert "not valid JSON" in grades["badjson", CHAPTER]["message"]
    assert grades["oldformat", CHAPTER]["status"] == "invalid"
    assert "nbformat 3" in grades["oldformat", CHAPTER]["message"]
    assert grades["misnamed", "01_toy_final"]["status"] == "invalid"
    assert "unknown chapter file" in grades["misnamed", "01_toy_final"]["message"]
    assert "not graded" in testing.feedback(graded["out"], "badjson", CHAPTER)
    crasher = grades["crasher", CHAPTER]
    assert crasher["status"] == "error" and "Kernel died" in crasher["message"]
    assert len(grades) == 10
    assert ("10 submissions: 4 graded, 1 missing_cells, 1 timeout, 3 invalid, 1 error"
            in graded["printed"])


def test_a_copied_answer_cell_is_graded_like_nbgrader_would(graded):
    # nbgrader alone fails the whole notebook ("Outdated schema version") on a duplicated id.
    row = graded["grades"]["copier", CHAPTER]
    assert (row["status"], row["score"]) == ("graded", "5")


def test_deleted_cells_and_timeouts_are_reported(graded):
    deleter = graded["grades"]["deleter", CHAPTER]
    assert (deleter["status"], deleter["score"]) == ("missing_cells", "2")
    assert "missing cells: test_square" in deleter["message"]
    sleepy = graded["grades"]["sleepy", CHAPTER]
    assert (sleepy["status"], sleepy["score"]) == ("timeout", "3")
    assert "timed out" in sleepy["message"] and "test_add" in sleepy["message"]


def test_grading_runs_in_fast_mode_and_restores_the_environment(graded):
    assert "mode: fast" in testing.feedback(graded["out"], "ref", CHAPTER)
    assert "NBGRADER_EXECUTION" not in graded["environment_after"]
    assert "VAELAB_FAST" not in graded["environment_after"]


def test_grading_leaves_its_inputs_and_the_repository_alone(graded):
    for path, digest in graded["inputs"].items():
        assert tree_hash(path) == digest, path
    created = {n for n in NBGRADER_ARTEFACTS if (REPO / n).exists()} - graded["artefacts"]
    assert not created


def test_zip_input_with_a_top_level_folder(source, tmp_path):
    testing.write_submissions(tmp_path / "class", {"zoe": {CHAPTER: testing.make_submission(source)}})
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.write(tmp_path / "class" / "zoe" / f"{CHAPTER}.ipynb", f"class/zoe/{CHAPTER}.ipynb")
        zip_file.writestr("__MACOSX/class/._zoe", "resource fork")
    grades, _, _ = testing.run_grade(archive, tmp_path / "out", TOY)
    assert list(grades) == [("zoe", CHAPTER)]
    assert grades["zoe", CHAPTER]["score"] == "5"
    assert (tmp_path / "out" / "feedback" / "zoe" / f"{CHAPTER}.html").exists()


def test_usage_errors_exit_with_2(tmp_path, capsys):
    run = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(tmp_path / "nowhere"), "--out",
         str(tmp_path / "out"), "--solutions", str(TOY)],
        cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 2 and "does not exist" in run.stderr, run.stderr
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty"), "--out", str(tmp_path / "out"),
                 "--solutions", str(TOY)]) == 2
    assert "no submissions" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_book_keeps_outputs_strips_solutions_and_caches(source, tmp_path, monkeypatch, capsys):
    # The cache hashes the code the notebooks import; a stand-in repository keeps it still.
    fake_repo = tmp_path / "repo"
    (fake_repo / "vaelab").mkdir(parents=True)
    (fake_repo / "vaelab" / "models.py").write_text("VERSION = 1\n")
    monkeypatch.setattr(book, "REPO", fake_repo)
    monkeypatch.delenv("VAELAB_FAST", raising=False)
    out = tmp_path / "generated"
    target = out / "chapters" / f"{CHAPTER}.ipynb"

    def build(*options):
        capsys.readouterr()
        assert main(["book", "--solutions", str(TOY), "--out", str(out), *options]) == 0
        return capsys.readouterr().out

    assert "executing" in build()
    nb = nbformat.read(target, as_version=4)
    outputs = "".join(o.get("text", "") for cell in nb.cells for o in cell.get("outputs", []))
    assert "mode: full" in outputs and "trained for 1000 steps" in outputs
    assert "add: visible checks passed" in outputs
    text = target.read_text()
    assert "raise NotImplementedError()" in text and "YOUR ANSWER HERE" in text
    assert "HIDDEN TESTS" not in text and "SOLUTION" not in text
    assert leaked_lines(source, nb) == []

    assert "up to date (cached)" in build()
    assert "executing" in build("--fast")
    assert "mode: fast" in target.read_text()
    assert "up to date (cached)" in build("--fast")
    (fake_repo / "vaelab" / "models.py").write_text("VERSION = 2\n")
    assert "executing" in build("--fast")


def test_leak_check_finds_solution_and_hidden_lines(source):
    view = testing.make_submission(source)  # answered: the reference answers are back in
    assert leaked_lines(source, view) == [
        "Because the product of two negative numbers is positive: (-x)(-x) = x x.",
        "return squared", "return total", "squared = x * x", "total = a + b"]
    hidden = 'assert add(-1, 5) == 4, "add(-1, 5) should be 4: do not take absolute values"'
    view = testing.make_submission(source, answered=False)
    assert leaked_lines(source, view) == []
    view.cells[4].source += "\n" + hidden
    assert leaked_lines(source, view) == [hidden]


def test_make_submission_rejects_unknown_cells(source):
    with pytest.raises(KeyError):
        testing.make_submission(source, {"no_such_function": "pass"})


def test_repository_chapters_match_solutions(capsys):
    """chapters/ must be what `python -m autograder release` makes of solutions/."""
    if not list((REPO / "solutions").glob("*.ipynb")):
        pytest.skip("no source notebook in solutions/ yet")
    code = main(["release", "--check"])
    assert code == 0, capsys.readouterr().out
