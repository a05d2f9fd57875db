"""End to end: Chapter 1 released, submitted and graded as an instructor would grade it.

One batch holds four students: the reference answers, the untouched student notebook, one known
mistake (kl_normal off by a factor of 2), and an answer that calls vaelab's reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder import testing

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
CHAPTER = "01_vae"
POINTS = {
    "test_sample_gaussian": 2,
    "test_log_normal": 2,
    "test_kl_normal": 3,
    "test_log_bernoulli_with_logits": 2,
    "test_negative_elbo_bound": 4,
}

KL_TWICE = '''
def kl_normal(qm, qv, pm, pv):
    return torch.sum(torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1, dim=-1)
'''

LOG_NORMAL_FROM_LIBRARY = '''
from vaelab.distributions import log_normal as _log_normal

def log_normal(x, m, v):
    return _log_normal(x, m, v)
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    source = testing.read_notebook(SOLUTIONS / f"{CHAPTER}.ipynb")
    root = tmp_path_factory.mktemp("class")
    testing.write_submissions(root / "in", {
        "ada": {CHAPTER: testing.make_submission(source)},
        "bob": {CHAPTER: testing.make_submission(source, answered=False)},
        "cy": {CHAPTER: testing.make_submission(source, {"kl_normal": KL_TWICE})},
        "dee": {CHAPTER: testing.make_submission(source, {"log_normal": LOG_NORMAL_FROM_LIBRARY})},
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
    expected = {gid: float(p) for gid, p in POINTS.items()} | {"test_kl_normal": 0.0}
    assert _scores(cells, "cy") == expected  # negative_elbo_bound is graded on its own
    assert float(grades["cy", CHAPTER]["score"]) == sum(POINTS.values()) - POINTS["test_kl_normal"]
    assert "off by a factor of 2" in testing.feedback(out, "cy", CHAPTER)


def test_calling_the_reference_earns_nothing_and_says_why(graded):
    grades, cells, out = graded
    assert _scores(cells, "dee")["test_log_normal"] == 0
    assert _scores(cells, "dee")["test_kl_normal"] == POINTS["test_kl_normal"]
    assert "calls vaelab&#39;s reference implementation" in testing.feedback(out, "dee", CHAPTER) or \
        "calls vaelab's reference implementation" in testing.feedback(out, "dee", CHAPTER)
