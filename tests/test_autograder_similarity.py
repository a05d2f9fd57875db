"""The class's similarity report (`autograder.similarity`): copies are flagged however they are
disguised, honest answers written differently are not, the reference solution is recognised,
stubs are ignored, and bad notebooks become notes.

`python tests/test_autograder_similarity.py` prints the measurement that sets the default
threshold (`measure_corpus`): independent correct answers of tests/corpus against disguised copies.
"""

from __future__ import annotations

import ast
import csv
import io
import itertools
from pathlib import Path

import nbformat
import pytest
import toy_class

from autograder import notebooks, similarity, testing
from autograder.cli import main
from autograder.inputs import find_submissions

REPO = Path(__file__).resolve().parent.parent

CHAPTER = "01_vae"
SOURCES = {CHAPTER: REPO / "solutions" / f"{CHAPTER}.ipynb"}

# negative_elbo_bound, as one student wrote it ...
ELBO_ORIGINAL = '''def negative_elbo_bound(model, x, beta=1.0):
    """The negative ELBO."""
    q_mean, q_var = model.encode(x)
    prior_mean, prior_var = model.prior()
    z = sample_gaussian(q_mean, q_var)
    decoded = model.decode(z)
    reconstruction = -log_bernoulli_with_logits(x, decoded).mean()
    divergence = kl_normal(q_mean, q_var, prior_mean, prior_var).mean()
    return reconstruction + beta * divergence, divergence, reconstruction
'''
# ... and as a classmate handed it in: names changed, lines moved, layout and comments added
ELBO_DISGUISED = '''def negative_elbo_bound(model, x, beta=1.0):
    """The negative ELBO."""
    # the prior first
    pm , pv = model.prior( )

    mu, sigma2 = model.encode( x )   # encoder
    # reparameterisation trick
    sample = sample_gaussian(mu,
                             sigma2)
    logit_values = model.decode(sample)
    kl_term = kl_normal(mu, sigma2, pm, pv).mean()      # KL
    rec_term = -log_bernoulli_with_logits(x, logit_values).mean()
    return (rec_term + beta * kl_term), kl_term, rec_term
'''
# an honest answer of the same exercise, written differently
ELBO_HONEST = """def negative_elbo_bound(model, x, beta=1.0):
    m, v = model.encode(x)
    eps = torch.randn_like(m)
    z = m + eps * torch.sqrt(v)
    rec = F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="none").sum(-1).mean()
    kl = 0.5 * (v + m**2 - 1 - torch.log(v)).sum(-1).mean()
    nelbo = rec + beta * kl
    return nelbo, kl, rec
"""
# the reference solution, renamed and commented
ELBO_FROM_REFERENCE = """def negative_elbo_bound(model, x, beta=1.0):
    mean, var = model.encode(x)  # q(z|x)
    p_mean, p_var = model.prior()
    z_sample = sample_gaussian(mean, var)
    out = model.decode(z_sample)
    r = -log_bernoulli_with_logits(x, out).mean()
    k = kl_normal(mean, var, p_mean, p_var).mean()
    total = r + beta * k
    return total, k, r
"""
# kl_normal written three independent ways
KL_LOG_DIFFERENCE = """def kl_normal(qm, qv, pm, pv):
    kl = torch.log(pv) - torch.log(qv) + qv / pv + (qm - pm).pow(2) / pv - 1.0
    return 0.5 * kl.sum(dim=-1)
"""
KL_DISTRIBUTIONS = """def kl_normal(qm, qv, pm, pv):
    q = D.Normal(qm, qv.sqrt())
    p = D.Normal(pm, pv.sqrt())
    return D.kl_divergence(q, p).sum(-1)
"""
KL_ENTROPIES = """def kl_normal(qm, qv, pm, pv):
    cross_entropy = 0.5 * (torch.log(2 * math.pi * pv) + (qv + (qm - pm) ** 2) / pv)
    entropy = 0.5 * torch.log(2 * math.pi * math.e * qv)
    return (cross_entropy - entropy).sum(-1)
"""


def released() -> nbformat.NotebookNode:
    return notebooks.read(REPO / "chapters" / f"{CHAPTER}.ipynb")


def make_class(root: Path, answers: dict[str, dict[str, str]]) -> Path:
    """`root/<student>/01_vae.ipynb`: the released notebook with the answer cells `answers[student]`
    (`{grade_id: source}`); the other answer cells keep their stubs."""
    for student, cells in answers.items():
        nb = released()
        for cell in nb.cells:
            if notebooks.grade_id(cell) in cells:
                cell.source = cells[notebooks.grade_id(cell)]
        notebooks.write(nb, root / student / f"{CHAPTER}.ipynb")
    return root


def report_of(root: Path, threshold: float = similarity.DEFAULT_THRESHOLD) -> similarity.Report:
    return similarity.class_report(find_submissions(root, [CHAPTER]), SOURCES, threshold)


def pair(report: similarity.Report, a: str, b: str, exercise: str) -> similarity.Row | None:
    return next(
        (r for r in report.rows if r.exercise == exercise and {r.student_a, r.student_b} == {a, b}),
        None,
    )


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    return make_class(
        tmp_path_factory.mktemp("similarity"),
        {
            "ana": {"negative_elbo_bound": ELBO_ORIGINAL, "kl_normal": KL_LOG_DIFFERENCE},
            "bruno": {"negative_elbo_bound": ELBO_DISGUISED, "kl_normal": KL_DISTRIBUTIONS},
            "carla": {"negative_elbo_bound": ELBO_HONEST, "kl_normal": KL_ENTROPIES},
            "davi": {"negative_elbo_bound": ELBO_FROM_REFERENCE},
            "eva": {},  # every answer cell still holds its stub
            "fabio": {},
        },
    )


@pytest.fixture(scope="module")
def report(klass) -> similarity.Report:
    return report_of(klass)


def test_a_disguised_copy_is_flagged(report):
    row = pair(report, "ana", "bruno", "negative_elbo_bound")
    assert row is not None and row.flagged and row.similarity >= similarity.DEFAULT_THRESHOLD


def test_honest_answers_written_differently_are_not_flagged(report):
    for a, b in itertools.combinations(["ana", "bruno", "carla"], 2):
        row = pair(report, a, b, "kl_normal")
        assert row is None or not row.flagged, row
    assert not any(r.flagged for r in report.rows if "carla" in (r.student_a, r.student_b))


def test_answers_that_match_the_reference_are_reported(report):
    row = pair(report, "davi", similarity.REFERENCE, "negative_elbo_bound")
    assert row is not None and row.flagged
    # the copy of ana's answer is the reference's shape too (the same calls, in another order)
    assert {r.student_a for r in report.flagged() if r.student_b == similarity.REFERENCE} >= {"davi"}


def test_stubs_are_ignored_and_noted(report):
    for row in report.rows:
        if row.similarity is not None:
            assert not {"eva", "fabio"} & {row.student_a, row.student_b}, row
    notes = {r.student_a: r.note for r in report.rows if r.similarity is None}
    assert "stub" in notes["eva"] and "stub" in notes["fabio"]
    # exercises nobody but ana, bruno and carla answered have no pair with an unanswered stub
    assert not [r for r in report.rows if r.exercise == "sample_gaussian"]


def test_the_stub_and_the_reference_are_read_from_the_source():
    exercise = similarity.exercises(CHAPTER, SOURCES[CHAPTER])["kl_normal"]
    assert exercise.stub == ""  # `raise NotImplementedError()` and the docstring: nothing to compare
    assert "torch.log(pv)" in exercise.reference and "def " not in exercise.reference


def test_normalise_drops_what_does_not_change_the_code():
    plain = similarity.normalise(KL_LOG_DIFFERENCE, "kl_normal")
    noisy = KL_LOG_DIFFERENCE.replace("    kl =", '    """A docstring."""\n\n    # a comment\n    kl =  ')
    assert similarity.normalise(noisy, "kl_normal") == plain
    assert similarity.normalise('def kl_normal(qm, qv, pm, pv):\n    """Doc."""\n    pass\n', "kl_normal") == ""
    # a cell that does not parse keeps its code, less comments
    assert similarity.normalise("def f(:\n    # note\n    return 1\n", "f") == "def f(:\n    return 1"


def test_the_threshold_is_respected(klass, report):
    everything = report_of(klass, 0.0)  # every pair is listed, and flagged
    middle = next(r for r in everything.rows if r.similarity is not None and 0.05 < r.similarity < 0.95)
    assert all(r.flagged for r in everything.rows if r.similarity is not None)
    for threshold, flagged in ((middle.similarity + 0.01, False), (middle.similarity - 0.01, True)):
        row = pair(report_of(klass, threshold), middle.student_a, middle.student_b, middle.exercise)
        assert row is not None and row.flagged is flagged and row.similarity == middle.similarity
    assert all(r.similarity >= report.threshold for r in report.flagged())
    assert len(everything.flagged()) > len(report.flagged())


def test_bad_notebooks_become_notes(tmp_path):
    root = make_class(tmp_path / "class", {"ana": {"kl_normal": KL_LOG_DIFFERENCE}})
    (root / "broken").mkdir()
    (root / "broken" / f"{CHAPTER}.ipynb").write_text("{ not json")
    report = report_of(root)
    notes = {r.student_a: r.note for r in report.rows if r.similarity is None}
    assert "not readable" in notes["broken"]


def test_csv_and_html_are_safe():
    # inputs.find_submissions refuses such student ids; the report must be safe all the same
    hostile = ["=HYPERLINK(1)", "+1", "@SUM(A1)", "<script>x"]
    rows = [similarity.Row(CHAPTER, "kl_normal", a, b, 0.95, True) for a, b in itertools.combinations(hostile, 2)]
    report = similarity.Report(0.9, rows + [similarity.Row(CHAPTER, "", "<script>x", note="=cmd|' /C calc'!A0")])
    lines = list(csv.DictReader(io.StringIO(similarity.report_csv(report))))
    assert list(lines[0]) == similarity.COLUMNS and len(lines) == len(report.rows)
    cells = [value for line in lines for value in line.values()]
    assert not any(value.startswith(("=", "+", "@")) for value in cells), cells
    assert any("HYPERLINK(1)" in value for value in cells)  # neutralised, not dropped
    page = similarity.html_section(report)
    assert "<script>" not in page and "&lt;script&gt;x" in page


def test_the_command_writes_the_csv(klass, tmp_path, capsys):
    assert main(["similarity", str(klass), "--out", str(tmp_path), "--threshold", "0.5"]) == 0
    rows = list(csv.DictReader((tmp_path / "similarity.csv").open(encoding="utf-8")))
    flagged = {(r["student_a"], r["student_b"]) for r in rows if r["flagged"] == "yes"}
    assert ("ana", "bruno") in flagged and all(float(r["similarity"]) >= 0.5 for r in rows if r["flagged"] == "yes")
    assert "similarity.csv" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit:  # argparse's usage error
        main(["similarity", str(klass), "--out", str(tmp_path), "--threshold", "2"])
    assert exit.value.code == 2


def test_grade_writes_the_report_at_the_end_of_a_batch(tmp_path):
    # fay hands in ada's answers (the toy's reference), renamed and commented; gus writes his own
    fay = {"add": "def add(a, b):\n    # sum\n    s = a + b\n    return s", "square": "def square(x):\n    return x**2"}
    gus = {"add": "def add(a, b):\n    return sum([a, b])", "square": "def square(x):\n    return pow(x, 2)"}
    root = toy_class.write_class(tmp_path / "in", {"fay": fay, "gus": gus})
    testing.run_grade(root, tmp_path / "out", toy_class.TOY, timeout=60, options=("--similarity-threshold", "0.95"))
    rows = list(csv.DictReader((tmp_path / "out" / "similarity.csv").open(encoding="utf-8")))
    flagged = {(r["exercise"], r["student_a"], r["student_b"]) for r in rows if r["flagged"] == "yes"}
    assert ("add", "ada", "fay") in flagged and ("add", "fay", similarity.REFERENCE) in flagged
    assert not any("gus" in pair for pair in flagged) and not any("bob" in pair for pair in flagged)
    assert any(r["student_a"] == "eve" and "not readable" in r["note"] for r in rows)  # not JSON
    page = (tmp_path / "out" / "summary.html").read_text()
    assert "Similarity of answers" in page and "at least 0.95" in page


def test_the_help_states_the_default():
    from autograder import cli

    assert float(cli.SIMILARITY_DEFAULT) == similarity.DEFAULT_THRESHOLD


# ---------------------------------------------------------------------------------------------
# The measurement behind DEFAULT_THRESHOLD


def function_source(path: Path) -> str:
    """The exercise function of a corpus file, as it would stand in the answer cell."""
    text = path.read_text()
    node = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == path.parent.name)
    return ast.get_source_segment(text, node)


def disguise(code: str, rewrite: bool = False) -> str:
    """A copy of `code` as a student would hide it: local names renamed, the first two independent
    assignments swapped, another layout, comments; `rewrite` also returns the value through a new
    variable and writes `sum(dim=-1)`."""
    tree = ast.parse(code)
    function = tree.body[0]
    arguments = {a.arg for a in function.args.args}
    stored = {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names = {name: f"my_{name}_{i}" for i, name in enumerate(sorted(stored - arguments))}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id in names:
            node.id = names[node.id]
    body = function.body
    for i, (a, b) in enumerate(itertools.pairwise(body)):
        if isinstance(a, ast.Assign) and isinstance(b, ast.Assign):
            reads = [{n.id for n in ast.walk(s) if isinstance(n, ast.Name)} for s in (a, b)]
            if not reads[0] & reads[1]:
                body[i], body[i + 1] = b, a
                break
    if rewrite and isinstance(body[-1], ast.Return) and body[-1].value is not None:
        value = body[-1].value
        body[-1:] = [ast.Assign([ast.Name("out", ast.Store())], value, lineno=0), ast.Return(ast.Name("out"))]
    text = ast.unparse(tree).replace("sum(-1)", "sum(dim=-1)" if rewrite else "sum(-1)")
    lines = []
    for j, line in enumerate(text.splitlines()):
        indent = line[: len(line) - len(line.lstrip())]
        lines += [f"{indent}# step {j}", line.replace(", ", " ,  ").replace("(", "( ") + "  # mine", ""]
    return "\n".join(lines[1:])


def measure_corpus() -> dict[str, object]:
    """Similarities on tests/corpus: every pair of correct answers of one exercise (independent,
    written in different styles), every answer against its disguised copy, and against its
    disguised and rewritten copy."""
    independent, copies, rewritten = [], [], []
    for folder in sorted(p for p in (REPO / "tests" / "corpus").glob("*/*") if p.is_dir()):
        files = sorted(folder.glob("*.py"))
        sources = {f.stem: function_source(f) for f in files}
        prints = {k: similarity.fingerprint(similarity.normalise(c, folder.name)) for k, c in sources.items()}
        correct = [k for k in sources if k.startswith("correct")]
        independent += [similarity.similarity(prints[a], prints[b]) for a, b in itertools.combinations(correct, 2)]
        for key, code in sources.items():
            for target, rewrite in ((copies, False), (rewritten, True)):
                copy = similarity.fingerprint(similarity.normalise(disguise(code, rewrite), folder.name))
                target.append(similarity.similarity(prints[key], copy))
    threshold = similarity.DEFAULT_THRESHOLD
    return {
        "independent pairs": len(independent),
        "independent max": round(max(independent), 3),
        "independent >= threshold": sum(s >= threshold for s in independent),
        "copies": len(copies),
        "copies min": round(min(copies), 3),
        "rewritten copies >= threshold": sum(s >= threshold for s in rewritten),
    }


@pytest.mark.parametrize("exercise", ["01_vae/negative_elbo_bound", "03_iwae/log_mean_exp", "05_fsvae/sample_grid"])
def test_the_similarity_is_copydetects(exercise):
    from copydetect import compare_files

    folder = REPO / "tests" / "corpus" / exercise
    codes = [similarity.normalise(function_source(f), folder.name) for f in sorted(folder.glob("*.py"))]
    codes += [similarity.normalise(disguise(function_source(f), True), folder.name) for f in folder.glob("w*.py")]
    prints = [similarity.fingerprint(code) for code in codes]
    values = []
    for a, b in itertools.combinations(prints, 2):
        _, (ab, ba), _ = compare_files(a, b)
        values.append(similarity.similarity(a, b))
        assert values[-1] == pytest.approx(min(ab, ba), abs=1e-12)
    assert 0 < sum(0 < v < 1 for v in values) < len(values)  # neither all equal nor all disjoint


def test_the_default_threshold_separates_the_corpus():
    measured = measure_corpus()
    assert measured["independent >= threshold"] == 0 and measured["copies min"] >= similarity.DEFAULT_THRESHOLD


if __name__ == "__main__":
    print(measure_corpus())
