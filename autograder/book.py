"""`python -m autograder book`: the chapter notebooks that the website shows.

For each source notebook `solutions/NN_name.ipynb`: execute it (the reference run, with its
figures; the working directory is the notebook's folder; fast mode with `--fast` or
`VAELAB_FAST=1`), then turn it into the student view with nbgrader's preprocessors while keeping
the outputs (`notebooks.student_view`), check that no solution or hidden-test line is left, and
write `OUT/chapters/NN_name.ipynb`. Jupyter Book renders these without executing them.

Cache: `OUT/chapters/NN_name.stamp` holds a hash of everything the run depends on (the source
notebook, `vaelab/**/*.py`, `autograder/hidden/**/*.py`, the fast flag, the edition); a notebook
whose stamp matches is not executed again.

`--jobs N` (`make book` passes the number of cores): the notebooks to execute run N at a time,
each in a process and a kernel of its own, before the views are written in order. With
`OMP_NUM_THREADS=1` each takes one core, so on 2 cores a clean build takes about half as long.

The executed source notebooks are also kept, outside the book, in `_build/executed/` (one per
source notebook, named by its hash): the other edition, and the test suite's site build (a fresh
`--out` each session), reuse them instead of executing the notebook again.

Instructor edition (`--instructor`, `make book-instructor`): the executed source notebooks are
written unchanged (solutions and hidden tests included) to `OUT/chapters/`, and `OUT/_toc.yml` and
`OUT/_config.yml` are derived from the book's own: the same table of contents with the chapter
pages taken from `OUT/chapters/`, and the title marked as the instructor edition. Never publish it.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import os
import time
from pathlib import Path

from nbclient import NotebookClient

from . import notebooks

REPO = Path(__file__).resolve().parent.parent
#: The code the notebooks run besides themselves: a change here re-executes them.
DEPENDENCIES = ("vaelab/**/*.py", "autograder/hidden/**/*.py")


def cache_key(solution: Path, fast: bool, instructor: bool = False) -> str:
    """A hash of the source notebook, of the `DEPENDENCIES`, of the fast flag and of the edition."""
    digest = hashlib.sha256(f"fast={fast}\n".encode() + (b"instructor\n" if instructor else b""))
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


#: The executed source notebooks (solutions included: never inside the book's folders).
EXECUTED = REPO / "_build" / "executed"


def executed_path(solution: Path, fast: bool) -> Path:
    """Where `executed_solution` keeps the executed copy of `solution`."""
    return EXECUTED / f"{solution.stem}.{cache_key(solution, fast)[:24]}.ipynb"


def executed_solution(solution: Path, fast: bool, timeout: int | None):
    """The source notebook executed, from `EXECUTED` when its hash matches, else run and kept."""
    cached = executed_path(solution, fast)
    if cached.exists():
        print(f"{solution}: executed copy reused ({cached.relative_to(REPO)})", flush=True)
        return notebooks.read(cached)
    print(f"{solution}: executing ({'fast' if fast else 'full'} mode)", flush=True)
    nb = execute(solution, fast, timeout)
    EXECUTED.mkdir(parents=True, exist_ok=True)
    for old in EXECUTED.glob(f"{solution.stem}.*.ipynb"):
        old.unlink()
    partial = cached.with_suffix(".partial")
    notebooks.write(nb, partial)
    partial.replace(cached)
    return nb


#: Where the public book's table of contents takes the chapter pages from.
PUBLIC_CHAPTERS = "book/_generated/chapters/"
INSTRUCTOR_TITLE = " · Instructor edition · Edição do professor"


def write_instructor_book(out: Path) -> None:
    """`OUT/_toc.yml` and `OUT/_config.yml` of the instructor edition, from the book's own."""
    import yaml

    try:
        chapters = (out.resolve() / "chapters").relative_to(REPO).as_posix() + "/"
    except ValueError:
        raise ValueError(f"--instructor: --out must be inside the repository ({REPO}), the book's root") from None
    toc = (REPO / "_toc.yml").read_text(encoding="utf-8")
    (out / "_toc.yml").write_text(
        "# Generated by `python -m autograder book --instructor` from _toc.yml: do not edit.\n"
        + toc.replace(PUBLIC_CHAPTERS, chapters), encoding="utf-8")
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = config.get("title", "") + INSTRUCTOR_TITLE
    # Jupyter Book finds local extensions relative to the configuration file.
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in extensions.items():
        extensions[name] = os.path.relpath(REPO / path, out.resolve())
    (out / "_config.yml").write_text(
        "# Generated by `python -m autograder book --instructor` from _config.yml: do not edit.\n"
        + yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _execute_into_cache(solution: Path, fast: bool, timeout: int | None) -> float:
    """`executed_solution` in a worker process; returns the seconds it took."""
    start = time.perf_counter()
    executed_solution(solution, fast, timeout)
    return time.perf_counter() - start


def execute_in_parallel(solutions: list[Path], fast: bool, timeout: int | None, jobs: int) -> None:
    """Executes `solutions` into `EXECUTED`, `jobs` notebooks at a time (each in its own
    kernel; with `OMP_NUM_THREADS=1`, one core each). The first error is raised once every
    running notebook has finished, so that their results are kept."""
    context = multiprocessing.get_context("spawn")  # no event loop or ZeroMQ state inherited
    errors = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        running = {pool.submit(_execute_into_cache, s, fast, timeout): s for s in solutions}
        for done in concurrent.futures.as_completed(running):
            try:
                print(f"{running[done]}: executed in {done.result():.0f} s", flush=True)
            except Exception as error:
                errors.append(error)
    if errors:
        raise errors[0]


def build(solutions: Path, out: Path, fast: bool, timeout: int | None = None, instructor: bool = False,
          jobs: int = 1) -> int:
    """Builds every chapter notebook that is out of date; returns the exit code.

    `instructor`: write the executed source notebooks unchanged, and the instructor edition's
    table of contents and configuration (see the module's docstring). `jobs`: how many
    notebooks execute at once."""
    sources = notebooks.chapter_sources(solutions)
    if not sources:
        print(f"error: no source notebooks in {solutions}/")
        return 2
    fast = fast or os.environ.get("VAELAB_FAST") == "1"
    stale = {}  # name: (solution, its cache key)
    for name, solution in sources.items():
        target = out / "chapters" / f"{name}.ipynb"
        stamp = target.with_suffix(".stamp")
        key = cache_key(solution, fast, instructor)
        if target.exists() and stamp.exists() and stamp.read_text().strip() == key:
            print(f"{target}: up to date (cached)")
        else:
            stale[name] = (solution, key)
    to_run = [s for s, _ in stale.values() if not executed_path(s, fast).exists()]
    if jobs > 1 and len(to_run) > 1:
        print(f"executing {len(to_run)} notebooks, {jobs} at a time", flush=True)
        execute_in_parallel(to_run, fast, timeout, jobs)
    for name, (solution, key) in stale.items():
        target = out / "chapters" / f"{name}.ipynb"
        stamp = target.with_suffix(".stamp")
        print(f"{target}: {'instructor edition' if instructor else 'student view'} of {solution}", flush=True)
        executed = executed_solution(solution, fast, timeout)
        if instructor:
            view = executed
        else:
            view = notebooks.student_view(executed)
            notebooks.check_no_leaks(notebooks.read(solution), view, str(solution))
        notebooks.write(view, target)
        stamp.write_text(key + "\n")
    if instructor:
        write_instructor_book(out)
        print(f"{out}/_toc.yml, {out}/_config.yml: the instructor edition's book files")
    return 0
