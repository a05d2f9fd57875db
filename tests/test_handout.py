"""The student handout (`python -m autograder handout`): no answer in it, and every chapter works.

* Every line of the reference answers (the solution and hidden-test regions of the source
  notebooks, the bodies of the reference functions) is searched for in every file of the handout.
* In an environment where only the handout is installed (its own `make install`, built once per
  run), every module imports, no module-level function computes an exercise, the chapters load
  the student's own earlier functions, and every chapter's notebook, answered with the reference
  answers by `grade_id`, passes its visible checks through `python -m autograder check`; with a
  known mistake the check fails and names it.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import notebooks, testing
from autograder.handout import HandoutError, build, parse_solved
from vaelab.chapters import EXERCISES

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
MIN_LENGTH = 16  # shorter lines ("return z", "else:") say nothing about an answer

pytestmark = pytest.mark.slow


def _meaningful(line: str) -> str | None:
    line = line.strip()
    if len(line) < MIN_LENGTH or line.startswith("#"):
        return None
    return line


def notebook_secret_lines(chapter: str, hidden_only: bool = False) -> set[str]:
    """The solution (and hidden-test) lines of a source notebook."""
    found = set()
    for cell in notebooks.read(SOLUTIONS / f"{chapter}.ipynb").cells:
        if cell.cell_type != "code":
            continue
        region = None
        for line in cell.source.splitlines():
            begin = next((b for b, _ in notebooks.SECRET_REGIONS if b in line), None)
            if region is None and begin is not None:
                region = begin
                continue
            if region is not None and any(e in line for b, e in notebooks.SECRET_REGIONS if b == region):
                region = None
                continue
            if region is not None and (not hidden_only or "HIDDEN" in region) and _meaningful(line):
                found.add(line.strip())
    return found


def reference_body_lines(chapter: str) -> set[str]:
    """The lines of the bodies (docstrings left out) of a chapter's reference functions."""
    path = REPO / "vaelab" / "reference" / f"ch{chapter[:2]}.py"
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            for statement in body:
                for line in lines[statement.lineno - 1 : statement.end_lineno]:
                    if _meaningful(line):
                        found.add(line.strip())
    return found


def released_lines() -> set[str]:
    """The lines of the released student notebooks: public by definition (interface idioms such as
    ``with torch.no_grad():`` that an answer shares with the code around it)."""
    return {
        line.strip()
        for path in (REPO / "chapters").glob("*.ipynb")
        for cell in notebooks.read(path).cells
        for line in cell.source.splitlines()
    }


def secret_lines(open_chapters) -> dict[str, str]:
    """``{line: where it comes from}`` for the answers of ``open_chapters`` and every hidden test,
    less the lines that the released student notebooks show anyway."""
    found, public = {}, released_lines()
    for chapter in EXERCISES:
        answers = notebook_secret_lines(chapter) | reference_body_lines(chapter)
        if chapter in open_chapters:
            found.update({line: f"{chapter}'s answers" for line in answers})
        else:  # a released chapter's answers are public, even where another answer shares a line
            public |= answers - notebook_secret_lines(chapter, hidden_only=True)
        for line in notebook_secret_lines(chapter, hidden_only=True):
            found[line] = f"{chapter}'s hidden tests"
    return {line: where for line, where in found.items() if line not in public}


def leaks(root: Path, open_chapters) -> list[str]:
    secrets = secret_lines(open_chapters)
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".venv" not in p.parts):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if path.suffix == ".ipynb":
            text = "\n".join(
                "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in json.loads(text)["cells"]
            )
        for line in text.splitlines():
            if line.strip() in secrets:
                found.append(f"{path.relative_to(root)}: {line.strip()!r} ({secrets[line.strip()]})")
    return found


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    return build(tmp_path_factory.mktemp("handout") / "course").root


@pytest.fixture(scope="module")
def solved_handout(tmp_path_factory):
    return build(tmp_path_factory.mktemp("solved") / "course", parse_solved("01_vae")).root


def test_the_scan_finds_the_answers_where_they_are():
    """The scan itself can fail: the instructor's own files hold every secret line it looks for."""
    assert leaks(REPO / "vaelab" / "reference", EXERCISES)
    assert leaks(SOLUTIONS, EXERCISES)


def test_no_line_of_any_answer_or_hidden_test_ships(handout):
    assert leaks(handout, EXERCISES) == []
    assert sorted(p.name for p in (handout / "vaelab" / "reference").iterdir()) == ["__init__.py"]
    assert not (handout / "solutions").exists()
    assert not list(handout.rglob("hidden"))


def test_a_solved_chapter_ships_its_answers_and_nothing_else(solved_handout):
    others = [c for c in EXERCISES if c != "01_vae"]
    assert leaks(solved_handout, others) == []
    assert (solved_handout / "vaelab" / "reference" / "ch01.py").is_file()
    solution = notebooks.read(solved_handout / "solutions" / "01_vae.ipynb")
    text = "\n".join(cell.source for cell in solution.cells)
    assert "BEGIN SOLUTION" in text and "HIDDEN TESTS" not in text
    assert any(cell.get("outputs") for cell in solution.cells if cell.cell_type == "code")  # executed


def test_configurations_that_cannot_be_served_are_refused_before_writing(tmp_path):
    with pytest.raises(HandoutError, match="unknown chapter"):
        parse_solved("01_vae,06_nope")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(HandoutError, match="not an empty folder"):
        build(tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["notes.txt"]
    with pytest.raises(HandoutError, match="inside the instructor's repository"):
        build(REPO / "handout-here")
    assert not (REPO / "handout-here").exists()


# ------------------------------------------------------------------------------------------------
# In the handout's own environment
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def student(handout, tmp_path_factory):
    """The handout with its environment installed by its own `make install` (once per run)."""
    start = time.perf_counter()
    done = subprocess.run(
        ["make", "install"],
        cwd=handout,
        capture_output=True,
        text=True,
        timeout=1800,
        env={k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"\nthe handout's make install took {time.perf_counter() - start:.0f} s")
    return handout


def run_in(
    handout: Path, *args, cwd: Path | None = None, timeout: int = 900, **env_vars
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "VAELAB_FAST")}
    env.update(OMP_NUM_THREADS="1", **env_vars)
    return subprocess.run(
        [str(handout / ".venv" / "bin" / "python"), *args],
        cwd=cwd or handout,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


PROBE = r"""
import importlib, inspect, json, pkgutil, sys, tempfile, os
from pathlib import Path
import torch
import vaelab, autograder
from vaelab.chapters import EXERCISES, ChapterUnavailable, load
if not os.environ.get("PROBE_ANY_VAELAB"):
    assert Path(vaelab.__file__).resolve().parent == Path.cwd().resolve() / "vaelab", vaelab.__file__
modules = []
# In the instructor's environment (the probe's own test) only vaelab: the grader's commands are not probed there.
for package in (vaelab,) if os.environ.get("PROBE_ANY_VAELAB") else (vaelab, autograder):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not info.name.endswith("__main__"):
            modules.append(importlib.import_module(info.name))
cases = json.loads(sys.argv[1])
computes = []
for module in modules:
    for name, fn in list(vars(module).items()):
        if not inspect.isfunction(fn) or fn.__module__ != module.__name__:
            continue
        for exercise, (args, expected) in cases.items():
            try:
                inspect.signature(fn).bind(*args)
            except TypeError:
                continue
            try:
                out = fn(*[torch.tensor(a) for a in args])
            except (Exception, SystemExit):  # a command's argument parser exits
                continue
            if isinstance(out, torch.Tensor) and out.shape == torch.Size(torch.tensor(expected).shape) \
                    and torch.allclose(out.double(), torch.tensor(expected, dtype=torch.float64), atol=1e-5):
                computes.append(f"{module.__name__}.{name} computes {exercise}")
os.chdir(tempfile.mkdtemp())
unavailable = []
for chapter, names in EXERCISES.items():
    try:
        load(chapter, names[0])
    except ChapterUnavailable as error:
        unavailable.append(chapter)
print(json.dumps({"modules": len(modules), "computes": computes, "unavailable": unavailable}))
"""


def _tensor_cases() -> dict:
    """An input and the reference output of each exercise that is a function of tensors."""
    import torch

    from vaelab import reference as ref

    g = torch.Generator().manual_seed(0)
    x, m, v = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g), torch.rand(3, 4, generator=g) + 0.2
    q = torch.softmax(torch.randn(3, 4, generator=g), -1)
    calls = {
        "log_normal": (x, m, v),
        "kl_normal": (x, v, m, v + 0.3),
        "log_bernoulli_with_logits": ((x > 0).double(), m),
        "log_normal_mixture": (x, m.unsqueeze(0), v.unsqueeze(0)),
        "log_mean_exp": (x, 1),
        "kl_cat": (q, q.log(), torch.full_like(q, -1.3)),
    }
    out = {}
    for name, args in calls.items():
        expected = getattr(ref, name)(*args)
        out[name] = ([a.tolist() if isinstance(a, torch.Tensor) else a for a in args], expected.tolist())
    return out


def test_the_probe_finds_the_exercises_where_they_are():
    """In the instructor's environment the same probe finds the reference: it can fail."""
    env = {**os.environ, "PROBE_ANY_VAELAB": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(_tensor_cases())],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "vaelab.reference.ch01.kl_normal computes kl_normal" in report["computes"]
    assert "vaelab.reference.ch04.kl_cat computes kl_cat" in report["computes"]


def test_the_handout_imports_and_computes_no_exercise(student):
    done = run_in(student, "-c", PROBE, json.dumps(_tensor_cases()))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["modules"] >= 15
    assert report["computes"] == []
    assert report["unavailable"] == list(EXERCISES)  # no notebook nearby: every chapter says so


#: One realistic mistake per chapter, and a word of the message the visible check must show.
MISTAKES = {
    "01_vae": (
        "kl_normal",
        "def kl_normal(qm, qv, pm, pv):\n    return (torch.log(pv) - torch.log(qv) + "
        "(qv + (qm - pm) ** 2) / pv - 1).sum(-1)\n",
        "factor of 2",
    ),
    "02_gmvae": (
        "log_normal_mixture",
        "def log_normal_mixture(z, m, v):\n    return torch.logsumexp(log_normal(z.unsqueeze(1), m, v), dim=-1)\n",
        "log",
    ),
    "03_iwae": ("duplicate", "def duplicate(x, rep):\n    return x.repeat_interleave(rep, dim=0)\n", "duplicate"),
    "04_ssvae": (
        "kl_cat",
        "def kl_cat(q, log_q, log_p):\n    return (q * (torch.log(q) - log_p)).sum(-1)\n",
        "torch.log(q)",
    ),
    "05_fsvae": (
        "sample_grid",
        "def sample_grid(model, n_styles=20, generator=None):\n    torch.manual_seed(0)\n"
        "    z = torch.randn(n_styles, model.z_dim)\n    y = torch.eye(10).repeat_interleave(n_styles, 0)\n"
        "    return model.decode(z.repeat(10, 1), y).reshape(10, n_styles, *model.image_shape).clip(0, 1)\n",
        "generator",
    ),
}


@pytest.fixture(scope="module")
def answered(student):
    """Every chapter answered with the reference answers, in the handout's chapters/."""
    for chapter in EXERCISES:
        submission = testing.make_submission(notebooks.read(SOLUTIONS / f"{chapter}.ipynb"))
        notebooks.write(submission, student / "chapters" / f"{chapter}.ipynb")
    return student


@pytest.mark.parametrize("chapter", list(EXERCISES))
def test_every_answered_chapter_runs_in_fast_mode_with_its_visible_checks_passing(answered, chapter, tmp_path):
    """The whole notebook, training and figures included, in the handout's own Jupyter."""
    done = run_in(
        answered,
        "-m",
        "jupyter",
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        "--output-dir",
        str(tmp_path),
        f"chapters/{chapter}.ipynb",
        timeout=1800,
        VAELAB_FAST="1",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    executed = notebooks.read(tmp_path / f"{chapter}.ipynb")
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    passed = [
        line
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream"
        for line in o.text.splitlines()
        if line.startswith("✓")
    ]
    assert len(passed) == len(EXERCISES[chapter]), passed


def test_the_self_check_passes_an_answered_chapter(answered):
    done = run_in(answered, "-m", "autograder", "check", "chapters/03_iwae.ipynb")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "3 of 3 functions pass: all visible checks pass" in done.stdout


@pytest.mark.parametrize("chapter", list(EXERCISES))
def test_a_known_mistake_fails_its_visible_check_and_is_named(answered, chapter, tmp_path):
    function, source, word = MISTAKES[chapter]
    course = tmp_path / "course"
    shutil.copytree(answered / "chapters", course / "chapters")
    nb = testing.make_submission(notebooks.read(SOLUTIONS / f"{chapter}.ipynb"), {function: source})
    notebooks.write(nb, course / "chapters" / f"{chapter}.ipynb")
    done = run_in(answered, "-m", "autograder", "check", str(course / "chapters" / f"{chapter}.ipynb"))
    assert done.returncode == 1, done.stdout[-4000:]
    line = next(line for line in done.stdout.splitlines() if line.strip().startswith(function))
    assert "failed" in line and word.lower() in line.lower(), line


def test_a_later_chapter_uses_the_students_own_earlier_functions(answered, tmp_path):
    """Chapter 2 needs chapter 1's log_normal: with chapter 1 unanswered, it says which chapter to finish."""
    course = tmp_path / "course"
    shutil.copytree(answered / "chapters", course / "chapters")
    released = notebooks.read(REPO / "chapters" / "01_vae.ipynb")
    notebooks.write(released, course / "chapters" / "01_vae.ipynb")
    done = run_in(
        answered, "-c", "from vaelab.chapters import load; load('01_vae', 'log_normal')", cwd=course / "chapters"
    )
    assert done.returncode != 0 and "not implemented yet" in done.stderr and "01_vae" in done.stderr
    done = run_in(
        answered,
        "-c",
        "from vaelab.chapters import load; import torch; "
        "print(load('01_vae', 'log_normal')(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2)).item())",
        cwd=answered / "chapters",
    )
    assert done.returncode == 0 and abs(float(done.stdout.strip()) + 1.8379) < 1e-3, done.stderr[-2000:]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
