"""`python -m autograder book`: the chapter notebooks that the website shows.

For each source notebook `solutions/NN_name.ipynb`: execute it (the reference run, with its
figures; the working directory is the notebook's folder; fast mode with `--fast` or
`VAELAB_FAST=1`), then turn it into the student view with nbgrader's preprocessors while keeping
the outputs (`notebooks.student_view`), check that no solution or hidden-test line is left, and
write `OUT/chapters/NN_name.ipynb`. Jupyter Book renders these without executing them.

Cache: `OUT/chapters/NN_name.stamp` holds a hash of everything the run depends on (the source
notebook, `vaelab/**/*.py`, `autograder/hidden/**/*.py`, the fast flag); a notebook whose stamp
matches is not executed again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from nbclient import NotebookClient

from . import notebooks

REPO = Path(__file__).resolve().parent.parent
#: The code the notebooks run besides themselves: a change here re-executes them.
DEPENDENCIES = ("vaelab/**/*.py", "autograder/hidden/**/*.py")


def cache_key(solution: Path, fast: bool) -> str:
    """A hash of the source notebook, of the `DEPENDENCIES` and of the fast flag."""
    digest = hashlib.sha256(f"fast={fast}\n".encode())
    files = [solution] + sorted({p for pattern in DEPENDENCIES for p in REPO.glob(pattern)})
    for path in files:
        digest.update(f"{path.name if path == solution else path.relative_to(REPO)}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def execute(solution: Path, fast: bool, timeout: int | None):
    """The source notebook executed in its folder; raises `CellExecutionError` on an error."""
    nb = notebooks.read(solution)
    client = NotebookClient(
        nb, timeout=timeout, record_timing=False,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": str(solution.parent)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"])
    with notebooks.environment(**notebooks.fast_mode_env(fast)):
        client.execute()
    return nb


def build(solutions: Path, out: Path, fast: bool, timeout: int | None = None) -> int:
    """Builds every chapter notebook that is out of date; returns the exit code."""
    sources = notebooks.chapter_sources(solutions)
    if not sources:
        print(f"error: no source notebooks in {solutions}/")
        return 2
    fast = fast or os.environ.get("VAELAB_FAST") == "1"
    for name, solution in sources.items():
        target = out / "chapters" / f"{name}.ipynb"
        stamp = target.with_suffix(".stamp")
        key = cache_key(solution, fast)
        if target.exists() and stamp.exists() and stamp.read_text().strip() == key:
            print(f"{target}: up to date (cached)")
            continue
        print(f"{target}: executing {solution} ({'fast' if fast else 'full'} mode)", flush=True)
        source = notebooks.read(solution)
        view = notebooks.student_view(execute(solution, fast, timeout))
        notebooks.check_no_leaks(source, view, str(solution))
        notebooks.write(view, target)
        stamp.write_text(key + "\n")
    return 0
