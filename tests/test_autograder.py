"""Tests of `python -m autograder` (release, grade, book) on the toy chapter in tests/fixtures/toy.

The toy source notebook follows the conventions of the real chapters: answer cells `add` and
`square`, test cells `test_add` (2 points) and `test_square` (3 points) with visible checks and
hidden tests whose assertion messages teach, a written question `question_symmetry` (1 point,
graded by hand), and a cell that prints the mode ("fast" under `VAELAB_FAST=1` or nbgrader).
The helpers of `autograder.testing` serve the end-to-end tests of the real chapters as well.

The `graded` batch holds one submission per thing that can go wrong (each with its test below):
broken files (not JSON, nbformat 3, an unknown name), deleted, copied and renamed cells, edited
tests, another kernel, a cell that sleeps, an endless loop that ignores interrupts, a notebook
past its time limit, a memory bomb, a kernel that exits or kills itself, 100 MB of output. It is
graded with short limits (`BATCH_OPTIONS`), two at a time. The sandbox, the durability of a batch,
the LMS exports and the self-check have test files of their own (`test_autograder_*.py`).
"""

from __future__ import annotations

import copy
import hashlib
import html
import os
import re
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
    index = next(i for i, cell in enumerate(nb.cells) if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    first = copy.deepcopy(nb.cells[index])
    first.id, first.source = "copied-cell", first_source
    nb.cells.insert(index, first)
    return nb


def with_kernel(nb, name):
    """`nb` whose metadata names the kernel `name` (a notebook saved from another kernel)."""
    nb = copy.deepcopy(nb)
    nb.metadata.kernelspec = {"name": name, "display_name": name, "language": "R"}
    return nb


def with_cell_source(nb, grade_id, new_source):
    """`nb` where the (locked) cell `grade_id` now holds `new_source`."""
    nb = copy.deepcopy(nb)
    next(cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id).source = new_source
    return nb


#: The limits of the batch: short, so that the bad submissions hit them quickly.
BATCH_OPTIONS = ("--notebook-timeout", "8", "--memory-limit", "2G", "--max-output", "100K", "--jobs", "2")
ENDLESS_AND_DEAF = """import time
while True:  # an endless loop that ignores the interrupt
    try:
        time.sleep(0.5)
    except KeyboardInterrupt:
        pass"""
SLOW = """import time
time.sleep({seconds})
def {name}({args}):
    return {body}"""
MEMORY_BOMB = """hog = bytearray(3 * 2**30)  # 3 GiB: more than the limit, less than the machine"""
CHATTY = """def add(a, b):
    return a + b
for _ in range(100):
    print("x" * 1_000_000)  # 100 MB in all"""


@pytest.fixture(scope="module")
def graded(released, source, tmp_path_factory):
    """One batch of submissions, graded from the repository root with fast mode unset."""
    work = tmp_path_factory.mktemp("grade")
    answer = testing.make_submission(source)
    submissions = testing.write_submissions(
        work / "in",
        {
            "ref": {CHAPTER: answer},
            "blank": {CHAPTER: (released / f"{CHAPTER}.ipynb").read_bytes()},
            "mistake": {CHAPTER: testing.make_submission(source, {"square": "def square(x):\n    return abs(x) * x"})},
            "deleter": {CHAPTER: testing.without_cells(answer, "test_square")},
            "sleepy": {
                CHAPTER: testing.make_submission(
                    source, {"add": "import time\ndef add(a, b):\n    time.sleep(60)\n    return a + b"}
                )
            },
            "badjson": {CHAPTER: '{"cells": [oops'},
            "oldformat": {CHAPTER: '{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}'},
            "misnamed": {"01_toy_final": answer},
            "copier": {CHAPTER: with_copied_cell(answer, "square", "def square(x):\n    return -1")},
            "crasher": {CHAPTER: testing.make_submission(source, {"add": "import os\nos._exit(1)"})},
            "killer": {
                CHAPTER: testing.make_submission(
                    source, {"square": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"}
                )
            },
            "renamer": {CHAPTER: testing.make_submission(source, {"add": "def add_numbers(a, b):\n    return a + b"})},
            "unanswered": {CHAPTER: testing.without_cells(answer, "add")},
            "rkernel": {CHAPTER: with_kernel(answer, "ir")},
            "cheater": {CHAPTER: with_cell_source(answer, "test_square", "print('all good')")},
            "deaf": {CHAPTER: testing.make_submission(source, {"add": ENDLESS_AND_DEAF})},
            "slowpoke": {
                CHAPTER: testing.make_submission(
                    source,
                    {
                        "add": SLOW.format(seconds=4, name="add", args="a, b", body="a + b"),
                        "square": SLOW.format(seconds=4.9, name="square", args="x", body="x * x"),
                    },
                )
            },
            "bomb": {CHAPTER: testing.make_submission(source, {"add": MEMORY_BOMB})},
            "chatty": {CHAPTER: testing.make_submission(source, {"add": CHATTY})},
        },
    )
    inputs = {path: tree_hash(path) for path in (TOY, submissions, released)}
    artefacts = {name for name in NBGRADER_ARTEFACTS if (REPO / name).exists()}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        patch.delenv("VAELAB_FAST", raising=False)
        patch.delenv("NBGRADER_EXECUTION", raising=False)
        grades, cells, printed = testing.run_grade(submissions, work / "out", TOY, timeout=5, options=BATCH_OPTIONS)
        environment_after = dict(os.environ)
    return {
        "grades": grades,
        "cells": cells,
        "printed": printed,
        "out": work / "out",
        "inputs": inputs,
        "artefacts": artefacts,
        "environment_after": environment_after,
    }


def test_reference_answers_get_full_marks(graded):
    row = graded["grades"]["ref", CHAPTER]
    assert (row["status"], row["score"], row["max_score"], row["manual_max"]) == ("graded", "5", "5", "1")
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
    assert len(grades) == 19
    assert "19 submissions: 8 graded, 2 missing_cells, 3 timeout, 1 memory, 2 crashed, 3 invalid" in graded["printed"]
    for student in ("badjson", "oldformat"):  # a page says why, and the batch went on
        page = testing.feedback(graded["out"], student, CHAPTER)
        assert "not graded (invalid)" in page and "not a gradable notebook" in page


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


def test_a_kernel_that_kills_itself_is_reported_and_the_cells_before_it_still_count(graded):
    crasher = graded["grades"]["crasher", CHAPTER]  # os._exit(1) in the answer cell `add`
    assert (crasher["status"], crasher["score"]) == ("crashed", "0")
    assert "the kernel died in add: exited with code 1" in crasher["message"]
    killer = graded["grades"]["killer", CHAPTER]  # SIGKILL in `square`, after test_add passed
    assert (killer["status"], killer["score"]) == ("crashed", "2")
    assert "killed by SIGKILL" in killer["message"]
    assert graded["cells"]["killer", CHAPTER, "test_add"]["score"] == "2"
    page = testing.feedback(graded["out"], "killer", CHAPTER)
    assert "the kernel died while running this cell" in page and "not run" in page


def test_a_renamed_function_is_named_in_the_feedback(graded):
    row = graded["grades"]["renamer", CHAPTER]
    assert (row["status"], row["score"]) == ("graded", "3")
    assert "function add is not defined: did you rename it?" in row["message"]
    assert "function add is not defined: did you rename it?" in testing.feedback(graded["out"], "renamer", CHAPTER)
    deleted = graded["grades"]["unanswered", CHAPTER]  # the answer cell itself was deleted
    assert (deleted["status"], deleted["score"]) == ("missing_cells", "3")
    assert "missing cells: add" in deleted["message"]
    assert "function add is not defined: its answer cell was deleted" in deleted["message"]


def test_another_kernel_name_is_graded_with_the_course_kernel(graded):
    row = graded["grades"]["rkernel", CHAPTER]
    assert (row["status"], row["score"]) == ("graded", "5")
    assert "asks for kernel 'ir'; it was graded with the course's kernel ('python3')" in (row["message"])


def test_edited_tests_are_detected_and_restored(graded):
    row = graded["grades"]["cheater", CHAPTER]  # test_square replaced by a print
    assert (row["status"], row["score"]) == ("graded", "5")  # the real tests ran, and passed
    assert "tests_edited: test_square" in row["message"]
    assert "tests_edited: test_square" in testing.feedback(graded["out"], "cheater", CHAPTER)
    assert "tests_edited" not in graded["grades"]["ref", CHAPTER]["message"]


def test_cell_and_notebook_time_limits(graded):
    deaf = graded["grades"]["deaf", CHAPTER]  # an endless loop that ignores the interrupt
    assert (deaf["status"], deaf["score"]) == ("timeout", "0")
    assert "did not stop when interrupted in add" in deaf["message"]
    slow = graded["grades"]["slowpoke", CHAPTER]  # 4 s + 4.9 s of cells: past the 8 s
    assert (slow["status"], slow["score"]) == ("timeout", "2")
    assert "notebook time limit (8 s) reached" in slow["message"]
    assert "NotebookTimeout" in testing.feedback(graded["out"], "slowpoke", CHAPTER)


def test_a_memory_bomb_hits_the_memory_limit(graded):
    row = graded["grades"]["bomb", CHAPTER]
    assert (row["status"], row["score"]) == ("memory", "3")
    assert "out of memory (limit 2 GiB) in add" in row["message"]
    assert "MemoryError" in testing.feedback(graded["out"], "bomb", CHAPTER)


def test_huge_outputs_are_truncated(graded):
    row = graded["grades"]["chatty", CHAPTER]  # prints 100 MB
    assert (row["status"], row["score"]) == ("graded", "5")
    assert "output truncated (more than 102400 bytes) in add" in row["message"]
    page = graded["out"] / "feedback" / "chatty" / f"{CHAPTER}.html"
    assert page.stat().st_size < 1_000_000
    assert "output truncated by the autograder" in page.read_text()


def test_feedback_has_a_score_table_and_the_named_mistakes_on_top(graded):
    page = testing.feedback(graded["out"], "mistake", CHAPTER)
    summary = page[page.index("id=autograder-summary") :]
    summary = summary[: summary.index("</div>")]
    assert "Autograded 2 / 5 · 1 point graded by hand, pending · total so far 2 / 6" in summary
    assert "<code>add</code>" in summary and "passed" in summary
    assert "square(-2) returned -4, expected 4: a square is never negative" in summary
    assert page.index("autograder-summary") < page.index("Exercise 2")  # above the notebook
    assert "bubblewrap" in page or "NOT isolated" in page  # which isolation was used


def test_feedback_shows_the_failures_but_not_the_hidden_tests(graded, source):
    """The source of the hidden tests stays secret (the next class would read it), in the cells
    and in the tracebacks, while each failure's message is shown."""
    page = html.unescape(testing.feedback(graded["out"], "mistake", CHAPTER))
    assert "square(-2) returned -4" in page.split("autograder-summary")[-1]  # in the cells too
    assert "HIDDEN TESTS" not in page
    regions = re.findall(
        r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", "\n".join(c.source for c in source.cells), flags=re.S
    )
    lines = [line.strip() for region in regions for line in region.splitlines() if line.strip()]
    assert lines and not [line for line in lines if line in page]


def test_class_summary_page(graded):
    page = (graded["out"] / "summary.html").read_text()
    assert "data:image/png;base64," in page  # the histogram
    assert "Failure rate per function" in page and "<code>square</code>" in page
    assert "a square is never negative" in page  # a named mistake, counted
    assert "19 submissions" in page


def test_export_for_the_lms(graded, capsys):
    assert main(["export", "--out", str(graded["out"])]) == 0
    rows = testing.read_csv(graded["out"] / "export.csv")
    assert list(rows[0]) == ["student", CHAPTER, "total"]
    by_student = {r["student"]: r for r in rows}
    assert by_student["ref"][CHAPTER] == by_student["ref"]["total"] == "5"
    assert by_student["badjson"]["total"] == "0"  # not gradable: 0
    assert "misnamed" not in by_student  # no chapter notebook at all
    assert [r["student"] for r in rows] == sorted(by_student)


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
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            str(tmp_path / "nowhere"),
            "--out",
            str(tmp_path / "out"),
            "--solutions",
            str(TOY),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "does not exist" in run.stderr, run.stderr
    (tmp_path / "empty").mkdir()
    assert main(["grade", str(tmp_path / "empty"), "--out", str(tmp_path / "out"), "--solutions", str(TOY)]) == 2
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
        "return squared",
        "return total",
        "squared = x * x",
        "total = a + b",
    ]
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
