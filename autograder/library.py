"""The course library a sandbox gets: `vaelab`, without the reference answers it must not hold.

- `sandbox_files(chapter)`: the files a sandbox grading `chapter` gets: all of `vaelab` but
  `vaelab/reference/`, except the reference modules of the chapters before it (the notebooks build
  on them, as a handout's `--solved` chapters do); `copy_library` copies them, read-only, with
  `REFERENCE_STUB` as the package's `__init__` (it refuses any other reference function, with the
  grader's words), and for a second run the reference helpers alone (`substitutes_source`);
- `library_digest`: the hash of the whole library (the reference and the checks included), which
  every result's hash covers.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from .files import REPO, files_digest

#: The course library: the package that the notebooks import from the repository, a folder relative
#: to it. A sandbox gets a copy of it without the reference answers (`INSTRUCTOR_ONLY`) of the
#: chapter it grades and of the chapters after it (`sandbox_files`); the grader judges the
#: observations outside (`autograder.judge`). A result's hash covers the whole library
#: (`library_digest`).
LIBRARY = ("vaelab",)
#: The reference answers and their full checks: never in a sandbox, but the modules
#: `vaelab/reference/chNN.py` of the chapters before the graded one (the notebooks build on them,
#: as a handout's `--solved` chapters).
INSTRUCTOR_ONLY = "vaelab/reference"
#: The sandbox's `vaelab/reference/__init__.py`: earlier chapters' answers by their flat names, and
#: a function that refuses to run for any other name (an answer that calls the reference of its own
#: exercise earns nothing, and says why).
REFERENCE_STUB = """\
\"\"\"vaelab's reference answers, in the grader's sandbox: only the chapters before the graded one.\"\"\"

import importlib
import pkgutil

_PREFIXES = {"vae_": "01", "gmvae_": "02", "ssvae_": "04", "fsvae_": "05"}


def _earlier(name):
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for prefix, chapter in _PREFIXES.items():
            if name.startswith(prefix) and info.name == f"ch{chapter}":
                return getattr(module, name[len(prefix):], None)
        if not any(name.startswith(prefix) for prefix in _PREFIXES) and hasattr(module, name):
            return getattr(module, name)
    return None


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    found = _earlier(name)
    if found is not None:
        return found

    def refused(*args, **kwargs):
        raise RuntimeError(
            f"{name} calls vaelab's reference implementation (vaelab.reference.{name}). The exercise is to "
            "write it yourself, so this answer earns no points for this function."
        )

    refused.__name__ = name
    return refused
"""
#: Files of the library that are not part of it (caches).
NOT_LIBRARY = ("__pycache__", ".pyc")


def library_files(root: Path = REPO) -> list[Path]:
    """The files of the course library (`LIBRARY`) under `root` (the repository, or a sandbox's
    LIB), caches left out, sorted."""
    return sorted(
        p
        for folder in LIBRARY
        for p in (root / folder).rglob("*")
        if p.is_file() and not any(part.endswith(NOT_LIBRARY) for part in p.parts)
    )


def sandbox_files(chapter: str | None, root: Path = REPO) -> list[Path]:
    """The files of the library that a sandbox grading `chapter` gets: all but `INSTRUCTOR_ONLY`,
    except the reference modules of the chapters before it (`None`: the whole library, for a
    kernel outside grading, such as the instructor's self-check)."""
    if chapter is None:
        return library_files(root)
    earlier = {f"ch{n:02d}.py" for n in range(1, int(chapter[:2]))}
    reference = root / INSTRUCTOR_ONLY
    return [
        p
        for p in library_files(root)
        if not p.is_relative_to(reference) or (p.parent == reference and p.name in earlier)
    ]


def library_digest(root: Path = REPO, *salt: bytes) -> str:
    """The hash of the course library under `root` (and of `salt`): what the results' hashes
    cover, and how a sandbox sees whether the library changed while a kernel ran."""
    return files_digest(root, library_files(root), *salt)


def substitutes_source(chapter: str, names: tuple[str, ...]) -> str:
    """The module `vaelab.reference.substitutes`: the reference functions `names` of `chapter`
    alone (with their module's imports), for a second run that observes an objective with correct
    helpers (`autograder.judge.wrong_helpers`). Never the objective's own reference."""
    source = (REPO / INSTRUCTOR_ONLY / f"ch{chapter[:2]}.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    kept = [
        node
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (isinstance(node, ast.FunctionDef) and node.name in names)
    ]
    found = {node.name for node in kept if isinstance(node, ast.FunctionDef)}
    if found != set(names):
        raise ValueError(f"no reference function {sorted(set(names) - found)} in chapter {chapter}")
    header = f'"""The reference helpers {", ".join(names)} of {chapter}, for observing an objective with them."""\n\n'
    return header + "\n\n\n".join(ast.get_source_segment(source, node) or "" for node in kept) + "\n"


def copy_library(dest: Path, chapter: str | None = None, substitutes: tuple[str, ...] = ()) -> Path:
    """Copies the library that a sandbox grading `chapter` gets (`sandbox_files`) to `dest`, with
    `REFERENCE_STUB` as its `vaelab/reference/__init__.py` when it grades (and the reference
    helpers `substitutes`, see `substitutes_source`), and makes it read-only; returns `dest`."""
    for path in sandbox_files(chapter):
        target = dest / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    if chapter is not None:
        stub = dest / INSTRUCTOR_ONLY / "__init__.py"
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text(REFERENCE_STUB, encoding="utf-8")
        if substitutes:
            module = substitutes_source(chapter, substitutes)
            (dest / INSTRUCTOR_ONLY / "substitutes.py").write_text(module, encoding="utf-8")
    for path in sorted(dest.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    dest.chmod(0o555)
    return dest


def extend_library(dest: Path, chapter: str) -> None:
    """Adds to the library `dest` (`copy_library`'s, for an earlier chapter) the reference modules
    of the chapters before `chapter`, for a sandbox that grades a student's chapters in order.
    Refuses (`ValueError`) when `dest` already holds the reference of `chapter` or of a later one."""
    reference = dest / INSTRUCTOR_ONLY
    held = sorted(p.name for p in reference.glob("ch[0-9][0-9].py"))
    if held and int(held[-1][2:4]) >= int(chapter[:2]):
        raise ValueError(f"this sandbox holds the reference module {held[-1]}: it cannot grade {chapter}")
    for path in sandbox_files(chapter):
        target = dest / path.relative_to(REPO)
        if not target.exists():
            target.parent.chmod(0o755)
            shutil.copyfile(path, target)
            target.chmod(0o444)
            target.parent.chmod(0o555)


def make_writable(root: Path) -> None:
    """Undoes `copy_library`'s read-only modes so that the folder can be deleted."""
    if root.exists():
        for path in [root, *root.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
