"""`python -m autograder handout --out DIR [--solved CHAPTER[,CHAPTER...]]`: the student edition.

This repository is the instructor's source. The handout is what students get (nbgrader's release
folder, otter-grader's student files, CS236's starter code): a self-contained repository with the
five student notebooks, the support library ``vaelab`` **without the reference answers**, a
self-check (``python -m autograder check``), a README in both languages, a Makefile, a
``pyproject.toml`` and an ``environment.yml``. The visible checks compare with expected values
stored when the handout is written (``vaelab/checks/expected.pt``: outputs, no code); chapters
build on earlier ones through :func:`vaelab.chapters.load`, that is on the student's own notebooks.

``--solved`` releases chapters whose deadline has passed: their reference module
(``vaelab/reference/chNN.py``) and their executed solution notebook (hidden tests removed) ship;
nothing of the other chapters does. A configuration that cannot be served is refused before
anything is written.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from vaelab.chapters import EXERCISES

from . import notebooks
from .release import drifted

REPO = Path(__file__).resolve().parent.parent
EDITION = Path(__file__).resolve().parent / "student_edition"
#: Parts of the library that never ship: the reference, its full checks and catalogues.
INSTRUCTOR_ONLY = ("vaelab/reference",)
HIDDEN = re.compile(r"^[ \t]*#+[ \t]*BEGIN HIDDEN TESTS.*?^[ \t]*#+[ \t]*END HIDDEN TESTS[^\n]*\n?", re.S | re.M)
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints", "expected.pt")


class HandoutError(ValueError):
    """A handout that cannot be written as asked; nothing was written."""


@dataclass
class Handout:
    """What :func:`build` wrote."""

    root: Path
    solved: tuple[str, ...]
    files: list[Path] = field(default_factory=list)


def parse_solved(text: str | None) -> tuple[str, ...]:
    """``"01_vae,02_gmvae"`` -> the chapters, validated; raises :class:`HandoutError`."""
    if not text:
        return ()
    chapters = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [c for c in chapters if c not in EXERCISES]
    if unknown:
        raise HandoutError(
            f"--solved: unknown chapter(s) {', '.join(unknown)}; the chapters are {', '.join(EXERCISES)}"
        )
    return chapters


def _preflight(out: Path, solutions: Path, chapters: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HandoutError(f"{out} exists and is not an empty folder: choose a new or empty folder")
    if out.resolve().is_relative_to(REPO.resolve()):
        raise HandoutError(f"{out} is inside the instructor's repository: write the handout outside it")
    missing = [
        c for c in EXERCISES if not (solutions / f"{c}.ipynb").is_file() or not (chapters / f"{c}.ipynb").is_file()
    ]
    if missing:
        raise HandoutError(f"the notebooks of {', '.join(missing)} are missing from {solutions} or {chapters}")
    stale = drifted(solutions, chapters)
    if stale:
        raise HandoutError(
            f"chapters/ is stale ({', '.join(stale)} differ from a fresh release): run `make release` first"
        )


def solution_notebook(path: Path):
    """The executed solution notebook of a released chapter, hidden tests removed."""
    nb = notebooks.read(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = HIDDEN.sub("", cell.source)
    return nb


def _library(out: Path, solved: tuple[str, ...]) -> None:
    shutil.copytree(REPO / "vaelab", out / "vaelab", ignore=IGNORED)
    for part in INSTRUCTOR_ONLY:
        shutil.rmtree(out / part)
    reference = out / "vaelab" / "reference"
    reference.mkdir()
    (reference / "__init__.py").write_text(
        '"""The reference answers of the chapters your instructor has released (one module per chapter)."""\n',
        encoding="utf-8",
    )
    for chapter in solved:
        shutil.copy2(REPO / "vaelab" / "reference" / f"ch{chapter[:2]}.py", reference / f"ch{chapter[:2]}.py")
    shutil.copytree(EDITION / "autograder", out / "autograder", ignore=IGNORED)


def _project_files(out: Path) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dependencies = project["dependencies"] + project["optional-dependencies"]["student"]
    listed = "".join(f'    "{d}",\n' for d in dependencies)
    (out / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "vaelab-course"\nversion = "' + project["version"] + '"\n'
        'description = "Variational Autoencoders, hands-on: the student edition"\n'
        'readme = "README.md"\nrequires-python = ">=3.10"\ndependencies = [\n' + listed + "]\n\n"
        '[tool.setuptools.packages.find]\ninclude = ["vaelab*", "autograder*"]\n\n'
        '[tool.setuptools.package-data]\nvaelab = ["checks/expected.pt"]\n',
        encoding="utf-8",
    )
    conda = "".join(f"      - {d}\n" for d in dependencies if not d.startswith("torch"))
    (out / "environment.yml").write_text(
        "# conda env create -f environment.yml && conda activate vae-course\nname: vae-course\nchannels:\n"
        "  - conda-forge\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
        f"      - torch=={_pinned_torch()}\n{conda}      - -e .\n",
        encoding="utf-8",
    )
    shutil.copy2(REPO / "constraints.txt", out / "constraints.txt")
    for name in ("README.md", "Makefile", ".gitignore"):
        shutil.copy2(EDITION / name, out / name)


def _pinned_torch() -> str:
    match = re.search(r"^torch==(\S+)", (REPO / "constraints.txt").read_text(encoding="utf-8"), re.M)
    if not match:
        raise HandoutError("constraints.txt does not pin torch (torch==X.Y.Z): the handout must pin it too")
    return match.group(1)


def _notebooks(out: Path, chapters: Path, solutions: Path, solved: tuple[str, ...]) -> None:
    for chapter in EXERCISES:
        notebooks.write(notebooks.read(chapters / f"{chapter}.ipynb"), out / "chapters" / f"{chapter}.ipynb")
    for chapter in solved:
        notebooks.write(solution_notebook(solutions / f"{chapter}.ipynb"), out / "solutions" / f"{chapter}.ipynb")


def build(
    out: Path, solved: tuple[str, ...] = (), solutions: Path = REPO / "solutions", chapters: Path = REPO / "chapters"
) -> Handout:
    """Write the student handout into ``out`` (new or empty); returns what was written."""
    from vaelab.checks import probes
    from vaelab.checks.observe import record

    out = Path(out)
    _preflight(out, Path(solutions), Path(chapters))
    _pinned_torch()
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _library(staging, solved)
        record(probes(), staging / "vaelab" / "checks" / "expected.pt")
        _project_files(staging)
        _notebooks(staging, Path(chapters), Path(solutions), solved)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    return Handout(out, solved, files)
