"""End to end: Chapter 5 released, submitted and graded as an instructor would grade it.

One batch holds three students: the reference answers, the untouched student notebook, and one
known mistake (a sample_grid that draws new styles for every label, so that the columns do not
share their style).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder import testing

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
CHAPTER = "05_fsvae"
POINTS = {
    "test_negative_elbo_bound": 4,
    "test_sample_grid": 3,
}

STYLE_PER_LABEL = '''
def sample_grid(model, n_styles=20, generator=None):
    rows = []
    with torch.no_grad():
        for label in range(10):
            z = torch.randn(n_styles, model.z_dim, generator=generator)
            y = F.one_hot(torch.full((n_styles,), label), 10).float()
            rows.append(model.decode(z, y))
    return torch.stack(rows).reshape(10, n_styles, *model.image_shape).clip(0, 1)
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    source = testing.read_notebook(SOLUTIONS / f"{CHAPTER}.ipynb")
    root = tmp_path_factory.mktemp("class")
    testing.write_submissions(root / "in", {
        "ada": {CHAPTER: testing.make_submission(source)},
        "bob": {CHAPTER: testing.make_submission(source, answered=False)},
        "cy": {CHAPTER: testing.make_submission(source, {"sample_grid": STYLE_PER_LABEL})},
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
    expected = {gid: float(p) for gid, p in POINTS.items()} | {"test_sample_grid": 0.0}
    assert _scores(cells, "cy") == expected
    assert float(grades["cy", CHAPTER]["score"]) == sum(POINTS.values()) - POINTS["test_sample_grid"]
    assert "styles are not shared" in testing.feedback(out, "cy", CHAPTER)
