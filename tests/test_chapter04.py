"""End to end: Chapter 4 released, submitted and graded as an instructor would grade it.

One batch holds three students: the reference answers, the untouched student notebook, and one
known mistake (kl_cat without the q weighting), which must cost kl_cat's points only: the
negative_elbo_bound that calls it is graded on its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder import testing

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
CHAPTER = "04_ssvae"
POINTS = {
    "test_kl_cat": 2,
    "test_negative_elbo_bound": 4,
    "test_classification_loss": 2,
}

UNWEIGHTED_KL = '''
def kl_cat(q, log_q, log_p):
    return (log_q - log_p).sum(-1)
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    source = testing.read_notebook(SOLUTIONS / f"{CHAPTER}.ipynb")
    root = tmp_path_factory.mktemp("class")
    testing.write_submissions(root / "in", {
        "ada": {CHAPTER: testing.make_submission(source)},
        "bob": {CHAPTER: testing.make_submission(source, answered=False)},
        "cy": {CHAPTER: testing.make_submission(source, {"kl_cat": UNWEIGHTED_KL})},
    })
    grades, cells, _ = testing.run_grade(root / "in", root / "out", solutions=SOLUTIONS)
    return grades, cells, root / "out"


def _scores(cells, student):
    return {gid: float(cells[student, CHAPTER, gid]["score"]) for gid in POINTS}


def test_reference_answers_get_full_marks(graded):
    grades, cells, _ = graded
    row = grades["ada", CHAPTER]
    assert row["status"] == "graded", row["message"]
    assert float(row["score"]) == float(row["max_score"]) == sum(POINTS.values())
    assert _scores(cells, "ada") == {gid: float(p) for gid, p in POINTS.items()}
    assert float(row["manual_max"]) == 9  # three written answers, graded by hand


def test_the_untouched_notebook_gets_zero(graded):
    grades, cells, out = graded
    assert float(grades["bob", CHAPTER]["score"]) == 0
    assert set(_scores(cells, "bob").values()) == {0.0}
    assert "not implemented yet" in testing.feedback(out, "bob", CHAPTER)


def test_one_mistake_loses_exactly_that_functions_points_and_is_named(graded):
    grades, cells, out = graded
    expected = {gid: float(p) for gid, p in POINTS.items()} | {"test_kl_cat": 0.0}
    assert _scores(cells, "cy") == expected  # negative_elbo_bound is graded on its own
    assert float(grades["cy", CHAPTER]["score"]) == sum(POINTS.values()) - POINTS["test_kl_cat"]
    assert "q weighting is missing" in testing.feedback(out, "cy", CHAPTER)
