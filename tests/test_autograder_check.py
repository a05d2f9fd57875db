"""`python -m autograder check NOTEBOOK`: the student's self-check on the toy chapter."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from autograder import notebooks, testing
from autograder.cli import main

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "fixtures" / "toy" / "solutions"
HIDDEN_MESSAGES = ("do not take absolute values", "a square is never negative")


@pytest.fixture(scope="module")
def source():
    return testing.read_notebook(TOY / "00_toy.ipynb")


def run_check(path: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["check", str(path)])
    return code, capsys.readouterr().out


def test_a_released_notebook_reports_what_is_left_to_do(tmp_path, capsys):
    assert main(["release", "--solutions", str(TOY), "--chapters", str(tmp_path)]) == 0
    code, printed = run_check(tmp_path / "00_toy.ipynb", capsys)
    assert code == 1
    assert "add       failed: not implemented yet" in printed
    assert "visible checks: 0 of 2 functions pass: some visible checks fail" in printed


def test_visible_checks_run_and_hidden_tests_are_neither_run_nor_shown(source, tmp_path, capsys):
    nb = copy.deepcopy(source)  # still holds the hidden tests, as a source notebook does
    answers = {
        "add": "def add(a, b):\n    return a - b",  # caught by the visible check
        "square": "def square(x):\n    return abs(x) * x",
    }  # caught only by hidden tests
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    notebooks.write(nb, tmp_path / "00_toy.ipynb")
    code, printed = run_check(tmp_path / "00_toy.ipynb", capsys)
    assert code == 1
    assert "add       failed: AssertionError: add(1, 2) should be 3" in printed
    assert "square    passed" in printed
    assert not any(message in printed for message in HIDDEN_MESSAGES)
    assert "1 of 2 functions pass" in printed


def test_an_answered_notebook_passes(source, tmp_path, capsys):
    notebooks.write(testing.make_submission(source), tmp_path / "00_toy.ipynb")
    code, printed = run_check(tmp_path / "00_toy.ipynb", capsys)
    assert code == 0, printed
    assert "visible checks: 2 of 2 functions pass: all visible checks pass" in printed


def test_a_file_that_is_not_a_notebook(tmp_path, capsys):
    (tmp_path / "00_toy.ipynb").write_text("{oops")
    code, printed = run_check(tmp_path / "00_toy.ipynb", capsys)
    assert code == 2 and "is not a notebook" in printed


def test_written_answers_still_empty_are_listed_and_answered_ones_are_not(source, tmp_path, capsys):
    assert main(["release", "--solutions", str(TOY), "--chapters", str(tmp_path)]) == 0
    _, printed = run_check(tmp_path / "00_toy.ipynb", capsys)
    assert "note: 1 written answer(s) still empty: question_symmetry" in printed
    notebooks.write(testing.make_submission(source), tmp_path / "answered.ipynb")
    _, printed = run_check(tmp_path / "answered.ipynb", capsys)
    assert "still empty" not in printed


def test_each_verdict_is_printed_as_soon_as_its_check_has_run(source, tmp_path, capsys, monkeypatch):
    """Progress: the verdict on `add` is out before the cells of `square` run, not at the end."""
    from nbclient import NotebookClient

    seen_before: dict[int, str] = {}
    original = NotebookClient.execute_cell

    def execute_cell(self, cell, index, *args, **kwargs):
        seen_before[index] = capsys.readouterr().out
        print(seen_before[index], end="")  # give the text back to the captured output
        return original(self, cell, index, *args, **kwargs)

    monkeypatch.setattr(NotebookClient, "execute_cell", execute_cell)
    notebooks.write(testing.make_submission(source), tmp_path / "00_toy.ipynb")
    code, printed = run_check(tmp_path / "00_toy.ipynb", capsys)
    assert code == 0, printed
    square = next(i for i, c in enumerate(source.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "square")
    before_square = "".join(text for i, text in seen_before.items() if i <= square)
    assert "running the notebook" in before_square
    assert "add       passed" in before_square
    assert "square    passed" not in before_square
