"""End to end: every chapter released, submitted and graded as an instructor would grade it.

ONE batch, graded once for the whole module with two workers (`--jobs 2`), holds every chapter and
these students:

- `ref`: the reference answers of every chapter (full marks);
- `stub`: the untouched student notebooks (0, "not implemented yet");
- `mistake-<function>`: for every autograded exercise function of every chapter, a notebook whose
  only mistake is one known, realistic mistake in that function, written from scratch as a student
  writes it. It must cost that function's points and nothing else (the exercises that call it are
  graded with the references substituted), and the feedback must name the mistake with the
  message of vaelab's catalogue (`vaelab.reference.checks`). A function name shared by several chapters
  (`negative_elbo_bound`) gives one student with one notebook per chapter;
- `library-<function>`: an answer that calls vaelab's reference implementation (0 for that
  function, and the feedback says why).

The tables below (`CHAPTERS`) hold, per chapter, the points of each function's test cells, the
points of the written answers, the mistakes (the student's answer cell and the expected message)
and the answers that call the library; the tests are parametrised over them, so a failure names
the chapter and the function.
"""

from __future__ import annotations

import ast
import html
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest
from nbgrader import utils as nbgrader_utils

from autograder import testing
from vaelab.reference import checks

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"


def cell(source: str) -> str:
    """An answer cell's source, as the student typed it."""
    return textwrap.dedent(source).strip() + "\n"


@dataclass(frozen=True)
class KnownMistake:
    """One known mistake in one function: the student's answer cell (the whole cell, written from
    scratch) and the catalogue's message that the feedback must show (compared after HTML
    unescaping)."""

    source: str
    message: str


@dataclass(frozen=True)
class Chapter:
    """`points`: the points of each autograded function's test cells; `manual_max`: the points of
    the written answers; `mistakes`: one known mistake per autograded function; `library`: answers
    that call vaelab's reference implementation of the function."""

    points: dict[str, int]
    manual_max: int
    mistakes: dict[str, KnownMistake]
    library: dict[str, str] = field(default_factory=dict)


LIBRARY_MESSAGE = "calls vaelab's reference implementation"
STUB_MESSAGE = "not implemented yet"

CHAPTERS: dict[str, Chapter] = {
    "01_vae": Chapter(
        points={
            "sample_gaussian": 2,
            "log_normal": 2,
            "kl_normal": 3,
            "log_bernoulli_with_logits": 2,
            "negative_elbo_bound": 4,
        },
        manual_max=9,
        mistakes={
            "sample_gaussian": KnownMistake(  # the standard deviation is sqrt(v), not v
                cell("""
                    def sample_gaussian(m, v):
                        eps = torch.randn_like(m)
                        return m + v * eps
                """),
                "The variance is v²: the noise is scaled by v instead of sqrt(v).",
            ),
            "log_normal": KnownMistake(  # v read as the standard deviation sigma
                cell("""
                    def log_normal(x, m, v):
                        log_density = -torch.log(v) - 0.5 * math.log(2 * math.pi) - (x - m) ** 2 / (2 * v ** 2)
                        return log_density.sum(-1)
                """),
                "v is treated as a standard deviation: in this course v is the variance.",
            ),
            "kl_normal": KnownMistake(  # the 1/2 in front of the sum is missing
                cell("""
                    def kl_normal(qm, qv, pm, pv):
                        return torch.sum(torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1, dim=-1)
                """),
                "the result is off by a factor of 2: the 1/2 in front of the sum is missing.",
            ),
            "log_bernoulli_with_logits": KnownMistake(  # the cross-entropy, not its negative
                cell("""
                    def log_bernoulli_with_logits(x, logits):
                        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
                """),
                "the sign is flipped: this is the binary cross-entropy, the log-probability is its negative.",
            ),
            "negative_elbo_bound": KnownMistake(  # sums over the batch instead of averaging
                cell("""
                    def negative_elbo_bound(model, x, beta=1.0):
                        m, v = model.encode(x)
                        z = sample_gaussian(m, v)
                        rec = -log_bernoulli_with_logits(x, model.decode(z)).sum()
                        kl = kl_normal(m, v, *model.prior()).sum()
                        return rec + beta * kl, kl, rec
                """),
                "It is the sum over the batch: take the mean over examples.",
            ),
        },
        library={
            "log_normal": cell("""
                from vaelab.reference import log_normal as _log_normal

                def log_normal(x, m, v):
                    return _log_normal(x, m, v)
            """),
        },
    ),
    "02_gmvae": Chapter(
        points={"log_normal_mixture": 3, "negative_elbo_bound": 4},
        manual_max=9,
        mistakes={
            "log_normal_mixture": KnownMistake(  # log(mean(exp(.))) underflows far from the modes
                cell("""
                    def log_normal_mixture(z, m, v):
                        densities = torch.exp(log_normal(z.unsqueeze(1), m, v))
                        return torch.log(densities.mean(dim=1))
                """),
                "log(sum(exp(.))) underflows to -inf (or overflows to +inf) when the components' "
                "log-densities are far from 0, as they are for a point far from every component: "
                "use torch.logsumexp, which subtracts the largest term before exponentiating.",
            ),
            "negative_elbo_bound": KnownMistake(  # chapter 1's prior N(0, I), not the mixture
                cell("""
                    def negative_elbo_bound(model, x):
                        m, v = model.encode(x)
                        z = sample_gaussian(m, v)
                        rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
                        log_p = log_normal(z, torch.zeros_like(z), torch.ones_like(z))
                        kl = (log_normal(z, m, v) - log_p).mean()
                        return rec + kl, kl, rec
                """),
                "log p(z) is computed under N(0, I): use the mixture, log_normal_mixture(z, *model.prior()).",
            ),
        },
        library={
            "negative_elbo_bound": cell("""
                from vaelab.reference import gmvae_negative_elbo_bound

                def negative_elbo_bound(model, x):
                    return gmvae_negative_elbo_bound(model, x)
            """),
        },
    ),
    "03_iwae": Chapter(
        points={"duplicate": 2, "log_mean_exp": 2, "negative_iwae_bound": 4},
        manual_max=9,
        mistakes={
            "duplicate": KnownMistake(  # example-major copies
                cell("""
                    def duplicate(x, rep):
                        return x.repeat_interleave(rep, dim=0)
                """),
                "the copies are example-major (x[0], x[0], ..., x[1], x[1], ...), as "
                "repeat_interleave or stacking on dimension 1 gives. duplicate must be "
                "repetition-major: all of x, then all of x again (x.repeat(rep, 1) or "
                "torch.cat([x] * rep)), so that row r * B + b is x[b].",
            ),
            "log_mean_exp": KnownMistake(  # the naive formula: exp underflows and overflows
                cell("""
                    def log_mean_exp(x, dim):
                        return torch.log(torch.exp(x).mean(dim=dim))
                """),
                "log(mean(exp(x))) is computed directly: exp overflows to inf for x above about 88 "
                "in float32 and underflows to 0 below about -104, so the log is inf or -inf. Use "
                "torch.logsumexp(x, dim) - log(n), or subtract the maximum before exponentiating "
                "and add it back afterwards.",
            ),
            "negative_iwae_bound": KnownMistake(  # the mean of the log-weights: the ELBO
                cell("""
                    def negative_iwae_bound(model, x, iw):
                        m, v = model.encode(x)
                        m, v, xs = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
                        z = sample_gaussian(m, v)
                        log_px_z = log_bernoulli_with_logits(xs, model.decode(z))
                        log_p, log_q = model.log_prior(z), log_normal(z, m, v)
                        log_w = (log_px_z + log_p - log_q).reshape(iw, -1)
                        return -log_w.mean(), (log_q - log_p).mean(), -log_px_z.mean()
                """),
                "niwae is the average of the log-weights, which is the negative ELBO: it does not "
                "get tighter as iw grows. The bound takes the log of the average of the weights: "
                "log_mean_exp of the log-weights over the iw samples.",
            ),
        },
    ),
    "04_ssvae": Chapter(
        points={"kl_cat": 2, "negative_elbo_bound": 4, "classification_loss": 2},
        manual_max=9,
        mistakes={
            "kl_cat": KnownMistake(  # the plain sum of log-ratios, no expectation under q
                cell("""
                    def kl_cat(q, log_q, log_p):
                        return (log_q - log_p).sum(-1)
                """),
                "the q weighting is missing: the KL is sum_y q_y (log q_y - log p_y), an "
                "expectation under q, not the plain sum of the log-ratios.",
            ),
            "negative_elbo_bound": KnownMistake(  # every label weighted 1/Y instead of q(y|x)
                cell("""
                    def negative_elbo_bound(model, x):
                        logits = model.classify(x)
                        q, log_q = F.softmax(logits, dim=-1), F.log_softmax(logits, dim=-1)
                        rec, kl_z = 0.0, 0.0
                        for label in range(model.y_dim):
                            y = F.one_hot(torch.full((x.shape[0],), label), model.y_dim).to(x.dtype)
                            m, v = model.encode(x, y)
                            z = sample_gaussian(m, v)
                            rec = rec - log_bernoulli_with_logits(x, model.decode(z, y)) / model.y_dim
                            kl_z = kl_z + kl_normal(m, v, *model.prior()) / model.y_dim
                        log_p = torch.full_like(log_q, -math.log(model.y_dim))
                        kl_y = kl_cat(q, log_q, log_p).mean()
                        rec, kl_z = rec.mean(), kl_z.mean()
                        return rec + kl_z + kl_y, kl_z, kl_y, rec
                """),
                "the per-label terms are averaged with equal weights 1/Y: weight each label by "
                "q(y|x), the classifier's probabilities, sum over the labels, then average over "
                "the batch.",
            ),
            "classification_loss": KnownMistake(  # summed over the batch
                cell("""
                    def classification_loss(model, x, y):
                        return F.cross_entropy(model.classify(x), y.argmax(dim=-1), reduction="sum")
                """),
                "it is the sum over the batch: take the mean over the labelled examples.",
            ),
        },
    ),
    "05_fsvae": Chapter(
        points={"negative_elbo_bound": 4, "sample_grid": 3},
        manual_max=9,
        mistakes={
            "negative_elbo_bound": KnownMistake(  # x_var = 0.1 read as the standard deviation
                cell("""
                    def negative_elbo_bound(model, x, y):
                        m, v = model.encode(x, y)
                        z = sample_gaussian(m, v)
                        mean = model.decode(z, y)
                        sigma = model.x_var
                        nll = (x - mean) ** 2 / (2 * sigma ** 2) + math.log(sigma) + 0.5 * math.log(2 * math.pi)
                        rec = nll.sum(-1).mean()
                        kl = kl_normal(m, v, *model.prior()).mean()
                        return rec + kl, kl, rec
                """),
                "The variance is 0.01: 0.1 is the variance, not the standard deviation (the "
                "standard deviation is sqrt(0.1)).",
            ),
            "sample_grid": KnownMistake(  # new styles for every label
                cell("""
                    def sample_grid(model, n_styles=20, generator=None):
                        rows = []
                        with torch.no_grad():
                            for label in range(10):
                                z = torch.randn(n_styles, model.z_dim, generator=generator)
                                y = F.one_hot(torch.full((n_styles,), label), 10).float()
                                rows.append(model.decode(z, y))
                        return torch.stack(rows).reshape(10, n_styles, *model.image_shape).clip(0, 1)
                """),
                "the styles are not shared: column j must use the same z_j for every label, but "
                "each label got its own z. Draw the n_styles codes once, before the loop over the "
                "labels.",
            ),
        },
    ),
}

MISTAKES = [(chapter, function) for chapter, table in CHAPTERS.items() for function in table.mistakes]
LIBRARY = [(chapter, function) for chapter, table in CHAPTERS.items() for function in table.library]


def _ids(pairs):
    return [f"{chapter}-{function}" for chapter, function in pairs]


def mistake_student(function: str) -> str:
    return f"mistake-{function}"


def library_student(function: str) -> str:
    return f"library-{function}"


def function_of(grade_id: str, functions) -> str:
    """The exercise function that the test cell `grade_id` (test_<function>...) tests."""
    name = grade_id.removeprefix("test_")
    return max((f for f in functions if name == f or name.startswith(f + "_")), key=len)


def submissions() -> dict[str, dict[str, object]]:
    """`{student: {chapter: notebook}}` for the whole batch."""
    batch: dict[str, dict[str, object]] = {}
    for chapter, table in CHAPTERS.items():
        source = testing.read_notebook(SOLUTIONS / f"{chapter}.ipynb")
        batch.setdefault("ref", {})[chapter] = with_own_figure(testing.make_submission(source))
        batch.setdefault("stub", {})[chapter] = testing.make_submission(source, answered=False)
        for function, mistake in table.mistakes.items():
            batch.setdefault(mistake_student(function), {})[chapter] = testing.make_submission(
                source, {function: mistake.source}
            )
        for function, answer in table.library.items():
            batch.setdefault(library_student(function), {})[chapter] = testing.make_submission(
                source, {function: answer}
            )
    return batch


#: A 1x1 PNG: the figure of the student's own run, in the last ordinary code cell of "ref"'s notebooks.
OWN_FIGURE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/eL9GtQAAAABJRU5ErkJggg=="


def with_own_figure(nb):
    """`nb` as the student saved it after running it: a figure in its last ordinary code cell."""
    cell = [c for c in nb.cells if c.cell_type == "code" and not nbgrader_utils.is_grade(c)][-1]
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": OWN_FIGURE})]
    return nb


class Batch(NamedTuple):
    grades: dict
    cells: dict
    out: Path

    def row(self, student: str, chapter: str) -> dict[str, str]:
        row = self.grades[student, chapter]
        assert row["status"] == "graded", f"{student}/{chapter}: {row['status']}: {row['message']}"
        return row

    def scores(self, student: str, chapter: str) -> dict[str, float]:
        """The score of every autograded function of `chapter` for `student` (the sum over its
        test cells)."""
        scores: dict[str, float] = {}
        for (who, where, grade_id), row in self.cells.items():
            if (who, where) == (student, chapter) and row["kind"] == "auto":
                function = function_of(grade_id, CHAPTERS[chapter].points)
                scores[function] = scores.get(function, 0.0) + float(row["score"])
        return scores

    def feedback(self, student: str, chapter: str) -> str:
        """The feedback page as text (HTML entities such as &#x27; unescaped)."""
        return html.unescape(testing.feedback(self.out, student, chapter))


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Batch:
    root = tmp_path_factory.mktemp("class")
    testing.write_submissions(root / "in", submissions())
    grades, cells, _ = testing.run_grade(root / "in", root / "out", solutions=SOLUTIONS, options=("--jobs", "2"))
    return Batch(grades, cells, root / "out")


def full_marks(chapter: str) -> dict[str, float]:
    return {function: float(points) for function, points in CHAPTERS[chapter].points.items()}


# ---------------------------------------------------------------------------------------------
# The tables agree with the notebooks and with vaelab's catalogue (no grading needed)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_table_covers_every_autograded_function_of_the_notebook(chapter):
    source = testing.read_notebook(SOLUTIONS / f"{chapter}.ipynb")
    answers = [
        c.metadata.nbgrader["grade_id"] for c in source.cells if c.cell_type == "code" and nbgrader_utils.is_solution(c)
    ]
    points: dict[str, float] = {}
    manual = 0.0
    for c in source.cells:
        if not nbgrader_utils.is_grade(c):
            continue
        if nbgrader_utils.is_solution(c):  # a written answer, graded by hand
            manual += float(c.metadata.nbgrader["points"])
            continue
        function = function_of(c.metadata.nbgrader["grade_id"], answers)
        points[function] = points.get(function, 0.0) + float(c.metadata.nbgrader["points"])
    table = CHAPTERS[chapter]
    assert points == full_marks(chapter)
    assert manual == table.manual_max
    assert set(table.mistakes) == set(points), "one known mistake per autograded function"


def _catalogue_texts() -> list[str]:
    """Every message vaelab's checks can give: the catalogue's `Mistake` messages and the string
    constants of `vaelab/checks/` and `vaelab/reference/checks/` (the hints of the visible and the full checks)."""
    texts = [m.message for mistakes in checks.MISTAKES.values() for m in mistakes]
    for path in sorted((REPO / "vaelab" / "checks").glob("*.py")) + sorted(
        (REPO / "vaelab" / "reference" / "checks").glob("*.py")
    ):
        texts += [
            node.value
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
    return texts


@pytest.mark.parametrize("chapter,function", MISTAKES, ids=_ids(MISTAKES))
def test_each_expected_message_is_named_by_vaelabs_catalogue(chapter, function):
    message = CHAPTERS[chapter].mistakes[function].message
    assert any(message in text for text in _catalogue_texts())


# ---------------------------------------------------------------------------------------------
# The graded batch


def test_the_batch_holds_every_chapter_and_every_student(batch):
    expected = {(student, chapter) for student, files in submissions().items() for chapter in files}
    assert set(batch.grades) == expected
    assert len(expected) == 2 * len(CHAPTERS) + len(MISTAKES) + len(LIBRARY)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_reference_answers_get_full_marks(batch, chapter):
    row = batch.row("ref", chapter)
    total = sum(CHAPTERS[chapter].points.values())
    assert float(row["score"]) == float(row["max_score"]) == total
    assert batch.scores("ref", chapter) == full_marks(chapter)
    assert float(row["manual_max"]) == CHAPTERS[chapter].manual_max  # written answers, by hand


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_feedback_shows_the_students_own_figures(batch, chapter):
    """The grader re-runs the notebook in fast mode without drawing figures; the feedback page shows the
    figures of the student's own run, from the submitted notebook, and says where they come from."""
    page = batch.feedback("ref", chapter)
    assert f"data:image/png;base64,{OWN_FIGURE}" in page
    assert "from the notebook you submitted (your own run)" in page


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_untouched_notebook_gets_zero(batch, chapter):
    row = batch.row("stub", chapter)
    assert float(row["score"]) == 0
    assert set(batch.scores("stub", chapter).values()) == {0.0}
    feedback = batch.feedback("stub", chapter)
    for function in CHAPTERS[chapter].points:
        assert f"{function} is {STUB_MESSAGE}" in feedback


@pytest.mark.parametrize("chapter,function", MISTAKES, ids=_ids(MISTAKES))
def test_a_known_mistake_costs_that_functions_points_only(batch, chapter, function):
    student = mistake_student(function)
    row = batch.row(student, chapter)
    # the functions that call it are graded with the references substituted: they keep theirs
    assert batch.scores(student, chapter) == full_marks(chapter) | {function: 0.0}
    points = CHAPTERS[chapter].points
    assert float(row["score"]) == sum(points.values()) - points[function]
    assert float(row["max_score"]) == sum(points.values())


@pytest.mark.parametrize("chapter,function", MISTAKES, ids=_ids(MISTAKES))
def test_a_known_mistake_is_named_in_the_feedback(batch, chapter, function):
    message = CHAPTERS[chapter].mistakes[function].message
    feedback = batch.feedback(mistake_student(function), chapter)
    # on one line with the function's name: the summary's row, the test's assertion message
    assert re.search(rf"\b{function}\b[^\n]*{re.escape(message)}", feedback), message
    assert message not in batch.feedback("ref", chapter)  # it is this mistake's, not the page's


@pytest.mark.parametrize("chapter,function", LIBRARY, ids=_ids(LIBRARY))
def test_calling_the_reference_earns_nothing_and_says_why(batch, chapter, function):
    student = library_student(function)
    batch.row(student, chapter)
    assert batch.scores(student, chapter) == full_marks(chapter) | {function: 0.0}
    assert f"{function} {LIBRARY_MESSAGE}" in batch.feedback(student, chapter)
    assert LIBRARY_MESSAGE not in batch.feedback("ref", chapter)
