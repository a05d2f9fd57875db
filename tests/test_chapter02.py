"""End to end: Chapter 2 released, submitted and graded as an instructor would grade it.

One batch holds four students: the reference answers, the untouched student notebook, one known
mistake (log_normal_mixture with a naive log(sum(exp(.))), which underflows), and a
negative_elbo_bound that calls vaelab's reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder import testing

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
CHAPTER = "02_gmvae"
POINTS = {
    "test_log_normal_mixture": 3,
    "test_negative_elbo_bound": 4,
}

NAIVE_MIXTURE = '''
def log_normal_mixture(z, m, v):
    densities = torch.exp(log_normal(z.unsqueeze(1), m, v))
    return torch.log(densities.mean(dim=1))
'''

NELBO_FROM_LIBRARY = '''
from vaelab.objectives import gmvae_negative_elbo_bound

def negative_elbo_bound(model, x):
    return gmvae_negative_elbo_bound(model, x)
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    source = testing.read_notebook(SOLUTIONS / f"{CHAPTER}.ipynb")
    root = tmp_path_factory.mktemp("class")
    testing.write_submissions(root / "in", {
        "ada": {CHAPTER: testing.make_submission(source)},
        "bob": {CHAPTER: testing.make_submission(source, answered=False)},
        "cy": {CHAPTER: testing.make_submission(source, {"log_normal_mixture": NAIVE_MIXTURE})},
        "dee": {CHAPTER: testing.make_submission(source, {"negative_elbo_bound": NELBO_FROM_LIBRARY})},
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
    expected = {gid: float(p) for gid, p in POINTS.items()} | {"test_log_normal_mixture": 0.0}
    assert _scores(cells, "cy") == expected  # negative_elbo_bound is graded on its own
    assert float(grades["cy", CHAPTER]["score"]) == sum(POINTS.values()) - POINTS["test_log_normal_mixture"]
    assert "underflows to -inf" in testing.feedback(out, "cy", CHAPTER)


def test_calling_the_reference_earns_nothing_and_says_why(graded):
    grades, cells, out = graded
    assert _scores(cells, "dee") == {"test_log_normal_mixture": 3.0, "test_negative_elbo_bound": 0.0}
    feedback = testing.feedback(out, "dee", CHAPTER)
    assert "calls vaelab&#39;s reference implementation" in feedback or "calls vaelab's reference implementation" in feedback
