"""End to end: Chapter 3 released, submitted and graded as an instructor would grade it.

One batch holds four students: the reference answers, the untouched student notebook, one known
mistake (duplicate example-major, which negative_iwae_bound must not pay for), and a
negative_iwae_bound that averages the log-weights (the ELBO) instead of their log-mean-exp.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder import testing

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
CHAPTER = "03_iwae"
POINTS = {
    "test_duplicate": 2,
    "test_log_mean_exp": 2,
    "test_negative_iwae_bound": 4,
}

DUPLICATE_INTERLEAVED = '''
def duplicate(x, rep):
    return x.repeat_interleave(rep, dim=0)
'''

IWAE_AS_ELBO = '''
def negative_iwae_bound(model, x, iw):
    m, v = model.encode(x)
    m, v, xs = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = sample_gaussian(m, v)
    log_px_z = log_bernoulli_with_logits(xs, model.decode(z))
    log_p, log_q = model.log_prior(z), log_normal(z, m, v)
    log_w = (log_px_z + log_p - log_q).reshape(iw, -1)
    return -log_w.mean(), (log_q - log_p).mean(), -log_px_z.mean()
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    source = testing.read_notebook(SOLUTIONS / f"{CHAPTER}.ipynb")
    root = tmp_path_factory.mktemp("class")
    testing.write_submissions(root / "in", {
        "ada": {CHAPTER: testing.make_submission(source)},
        "bob": {CHAPTER: testing.make_submission(source, answered=False)},
        "cy": {CHAPTER: testing.make_submission(source, {"duplicate": DUPLICATE_INTERLEAVED})},
        "dee": {CHAPTER: testing.make_submission(source, {"negative_iwae_bound": IWAE_AS_ELBO})},
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


def test_a_wrong_helper_loses_only_its_own_points_and_is_named(graded):
    grades, cells, out = graded
    expected = {gid: float(p) for gid, p in POINTS.items()} | {"test_duplicate": 0.0}
    assert _scores(cells, "cy") == expected  # negative_iwae_bound is graded on its own
    assert float(grades["cy", CHAPTER]["score"]) == sum(POINTS.values()) - POINTS["test_duplicate"]
    assert "example-major" in testing.feedback(out, "cy", CHAPTER)


def test_the_elbo_instead_of_the_iwae_bound_is_named(graded):
    _, cells, out = graded
    expected = {gid: float(p) for gid, p in POINTS.items()} | {"test_negative_iwae_bound": 0.0}
    assert _scores(cells, "dee") == expected
    assert "average of the log-weights" in testing.feedback(out, "dee", CHAPTER)
