"""The exercise functions of the chapters, for the chapters and library code that build on them.

Chapter 2 needs chapter 1's ``log_normal``, chapter 3 trains the models of chapters 1 and 2, and
library code such as a GMVAE's ``log_prior`` needs chapter 2's ``log_normal_mixture``. They all ask
:func:`load`, which finds the functions of a chapter, in this order:

1. **the reference answers** (``vaelab.reference.chNN``), present in the instructor's source and,
   in a student handout, for the chapters the instructor has released as ``--solved``;
2. for a name that belongs to one exercise only (every name but ``negative_elbo_bound``), **the
   function of that name defined in the running notebook** (``__main__``), so that a chapter can
   use what the student has just written before saving it;
3. **the student's own notebook of that chapter** (``<chapter>.ipynb`` in ``$VAELAB_CHAPTERS``, the
   working folder, ``chapters/`` or ``../chapters/``): its answer cells are run in a fresh
   namespace, as CS236's starter code calls the student's ``utils.py``.

When none of them has the function, :class:`ChapterUnavailable` says which chapter to finish.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

__all__ = ["EXERCISES", "ChapterUnavailable", "load", "call_with_generator", "notebook_functions"]

#: The graded exercise functions of every chapter (the grading contract of ``DESIGN.md``).
EXERCISES: dict[str, tuple[str, ...]] = {
    "01_vae": ("sample_gaussian", "log_normal", "kl_normal", "log_bernoulli_with_logits", "negative_elbo_bound"),
    "02_gmvae": ("log_normal_mixture", "negative_elbo_bound"),
    "03_iwae": ("duplicate", "log_mean_exp", "negative_iwae_bound"),
    "04_ssvae": ("kl_cat", "negative_elbo_bound", "classification_loss"),
    "05_fsvae": ("negative_elbo_bound", "sample_grid"),
}

#: The marker of an answer cell that the student has not filled in yet.
STUB = "raise NotImplementedError"

_NOTEBOOK_CACHE: dict[tuple[str, float], dict[str, Callable]] = {}


class ChapterUnavailable(ImportError):
    """An exercise function that another chapter needs is neither released nor written yet."""


def _shared_names() -> set[str]:
    seen: dict[str, int] = {}
    for names in EXERCISES.values():
        for name in names:
            seen[name] = seen.get(name, 0) + 1
    return {name for name, count in seen.items() if count > 1}


def _reference(chapter: str):
    try:
        return importlib.import_module(f"vaelab.reference.ch{chapter[:2]}")
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("vaelab.reference"):
            return None
        raise


def _from_main(name: str) -> Callable | None:
    if name in _shared_names():
        return None
    fn = getattr(sys.modules.get("__main__"), name, None)
    if callable(fn) and getattr(fn, "__module__", None) == "__main__" and not _is_stub(fn):
        return fn
    return None


def _is_stub(fn: Callable) -> bool:
    code = getattr(fn, "__code__", None)
    return code is not None and set(code.co_names) <= {"NotImplementedError"}


def _candidates(chapter: str) -> Iterator[Path]:
    folders = [os.environ.get("VAELAB_CHAPTERS", ""), ".", "chapters", "../chapters"]
    for folder in folders:
        if folder:
            yield Path(folder) / f"{chapter}.ipynb"


def _find_notebook(chapter: str) -> Path | None:
    return next((path for path in _candidates(chapter) if path.is_file()), None)


def _imports(sources: list[str]) -> str:
    """The top-level import statements of the notebook's code cells (IPython magics skipped)."""
    lines = []
    for source in sources:
        text = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        lines += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(["import math", "import torch", "import torch.nn.functional as F", *lines])


def _earlier_functions(chapter: str) -> dict[str, Callable]:
    """The earlier chapters' exercise functions, by name, resolved by :func:`load` when first called
    (as the notebook's setup cell binds them); a name shared by several chapters is left out."""
    shared = _shared_names()

    def deferred(earlier: str, name: str) -> Callable:
        def call(*args, **kwargs):
            return load(earlier, name)(*args, **kwargs)

        call.__name__ = name
        return call

    chapters = list(EXERCISES)
    return {
        name: deferred(earlier, name)
        for earlier in chapters[: chapters.index(chapter)]
        for name in EXERCISES[earlier]
        if name not in shared
    }


def notebook_functions(path: Path, chapter: str) -> dict[str, Callable]:
    """The exercise functions of ``chapter`` written in the notebook at ``path``, stubs left out.

    The notebook's import statements run first, then its answer cells (nbgrader ``grade_id`` equal
    to an exercise name), in order, in one fresh namespace.
    """
    key = (str(path.resolve()), path.stat().st_mtime)
    if key in _NOTEBOOK_CACHE:
        return _NOTEBOOK_CACHE[key]
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    code = ["".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code"]
    answers = [
        "".join(c.get("source", ""))
        for c in cells
        if c.get("cell_type") == "code"
        and c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in EXERCISES[chapter]
    ]
    namespace: dict = {"__name__": f"vaelab_chapter_{chapter}", **_earlier_functions(chapter)}
    exec(compile(_imports(code), f"{path} (imports)", "exec"), namespace)
    found = {}
    for source in answers:
        if STUB in source:
            continue
        exec(compile(source, str(path), "exec"), namespace)
    for name in EXERCISES[chapter]:
        if callable(namespace.get(name)):
            found[name] = namespace[name]
    _NOTEBOOK_CACHE[key] = found
    return found


def _resolve(chapter: str, name: str) -> Callable:
    reference = _reference(chapter)
    if reference is not None:
        return getattr(reference, name)
    fn = _from_main(name)
    if fn is not None:
        return fn
    path = _find_notebook(chapter)
    if path is not None:
        try:
            fn = notebook_functions(path, chapter).get(name)
        except Exception as error:  # the student's notebook does not run: say where
            raise ChapterUnavailable(
                f"`{name}` of chapter {chapter} is needed here, but the answer cells of {path} raise "
                f"{type(error).__name__}: {error}. Fix chapter {chapter} first."
            ) from error
        if fn is not None:
            return fn
        raise ChapterUnavailable(
            f"`{name}` of chapter {chapter} is needed here, but it is not implemented yet in {path}. "
            f"Finish that exercise of chapter {chapter} (and save the notebook), or ask your instructor "
            "for the chapter's solution."
        )
    raise ChapterUnavailable(
        f"`{name}` of chapter {chapter} is needed here, but {chapter}.ipynb was not found (looked in "
        "$VAELAB_CHAPTERS, the working folder, chapters/ and ../chapters/). Put your notebook of that "
        "chapter next to this one, or set VAELAB_CHAPTERS to its folder."
    )


def load(chapter: str, *names: str):
    """The functions ``names`` of ``chapter`` (one function for one name, else a tuple).

    Example: ``log_normal, kl_normal = load("01_vae", "log_normal", "kl_normal")``.
    """
    if chapter not in EXERCISES:
        raise ValueError(f"unknown chapter {chapter!r}; choose one of {sorted(EXERCISES)}")
    unknown = [name for name in names if name not in EXERCISES[chapter]]
    if unknown or not names:
        raise ValueError(f"chapter {chapter} has the exercises {EXERCISES[chapter]}, not {unknown or 'none'}")
    functions = tuple(_resolve(chapter, name) for name in names)
    return functions[0] if len(functions) == 1 else functions


@contextlib.contextmanager
def _drawing_from(generator: torch.Generator | None) -> Iterator[None]:
    """Global random numbers drawn inside come from ``generator``'s stream, as if drawn from it."""
    if generator is None:
        yield
        return
    cuda = generator.device.type == "cuda"
    with torch.random.fork_rng(devices=[generator.device.index or 0] if cuda else []):
        if cuda:
            torch.cuda.set_rng_state(generator.get_state(), generator.device)
        else:
            torch.set_rng_state(generator.get_state())
        try:
            yield
        finally:
            generator.set_state(torch.cuda.get_rng_state(generator.device) if cuda else torch.get_rng_state())


def call_with_generator(fn: Callable, *args, generator: torch.Generator | None = None, **kwargs):
    """``fn(*args, **kwargs)``, drawing its random numbers from ``generator`` when one is given.

    A student's function takes no generator: it runs with the global generator set to
    ``generator``'s state (which then advances as if it had drawn the numbers itself), and the global
    state is restored afterwards, so that an evaluation is repeatable and leaves the caller's random
    state as it was.
    """
    with _drawing_from(generator):
        return fn(*args, **kwargs)
