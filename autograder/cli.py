"""The command line: `python -m autograder release|grade|check|export|book|handout|similarity` (see the package
docstring).

Each command is two functions: `_add_<command>(commands)` declares its arguments, and
`_<command>(args)` runs it and returns the exit code; `COMMANDS` lists them. A new command is
one more pair and one more entry. The commands' modules are imported when the command runs, so
that `--help` stays quick.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .files import REPO
from .inputs import UsageError


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m autograder",
        description=("Release student notebooks, grade submissions and build the book's notebooks."),
    )
    commands = main.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(commands)
    return main


def _add_release(commands) -> None:
    release = commands.add_parser("release", help="regenerate chapters/ from solutions/")
    release.add_argument(
        "--solutions", type=Path, default=REPO / "solutions", help="source notebooks (default: %(default)s)"
    )
    release.add_argument(
        "--chapters", type=Path, default=REPO / "chapters", help="student notebooks to write (default: %(default)s)"
    )
    release.add_argument("--check", action="store_true", help="write nothing; exit 1 naming the notebooks that differ")


def _add_grade(commands) -> None:
    grade = commands.add_parser("grade", help="autograde a folder or .zip of submissions")
    grade.add_argument(
        "submissions",
        type=Path,
        metavar="SUBMISSIONS",
        help="folder (or .zip) of <student>/<chapter>.ipynb, or a Canvas, Moodle or Blackboard export",
    )
    grade.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="receives grades.csv, scores_by_function.csv, summary.html, feedback/, results/, logs/",
    )
    _add_limits(grade)
    _add_batch_options(grade)
    grade.add_argument(
        "--similarity-threshold",
        type=similarity_threshold,
        default=None,
        metavar="X",
        help="flag, in summary.html and similarity.csv, answers at least this similar, in [0, 1] "
        f"(default: {SIMILARITY_DEFAULT})",
    )


def _add_limits(grade) -> None:
    """`grade`'s limits and isolation of each notebook."""
    grade.add_argument(
        "--timeout",
        type=int,
        default=180,
        metavar="SECONDS",
        help="execution time limit per cell (default: %(default)s)",
    )
    grade.add_argument(
        "--notebook-timeout",
        type=int,
        default=900,
        metavar="SECONDS",
        help="execution time limit per notebook; 0: none (default: %(default)s)",
    )
    grade.add_argument(
        "--memory-limit",
        type=memory_size,
        default="4G",
        metavar="SIZE",
        help="memory of each sandbox: its processes together (memory cgroup, where the machine has one) "
        "and the address space of each (at least 1G where the cgroup holds the total), e.g. 4G, 512M; "
        "0: none (default: 4G)",
    )
    grade.add_argument(
        "--max-output",
        type=memory_size,
        default="1M",
        metavar="SIZE",
        help="output kept per cell, the rest is dropped (default: 1M)",
    )
    grade.add_argument(
        "--max-processes",
        type=int,
        default=256,
        metavar="N",
        help="processes and threads of each sandbox, all together (cgroup pids.max; default: %(default)s)",
    )
    grade.add_argument(
        "--disk-limit",
        type=memory_size,
        default="512M",
        metavar="SIZE",
        help="size of the kernel's working folder, /tmp, /dev/shm and HOME, each a memory-backed "
        "tmpfs under bubblewrap (default: 512M)",
    )
    grade.add_argument(
        "--isolation",
        choices=("auto", "bwrap", "rlimits"),
        default=os.environ.get("AUTOGRADER_ISOLATION", "auto"),
        help="bwrap or auto: bubblewrap sandbox (no network, no file outside the submission); "
        "grading refuses to run where bubblewrap does not work. rlimits: the explicit choice of "
        "WEAKER isolation, process limits only (the file system and the network are not "
        "isolated; the results and feedback say so) (default: $AUTOGRADER_ISOLATION or auto)",
    )


def _add_batch_options(grade) -> None:
    """`grade`'s options of the batch: parallelism, resuming, the gradebook, the sources."""
    grade.add_argument(
        "--jobs", "-j", type=int, default=1, metavar="N", help="grade N submissions at once (default: %(default)s)"
    )
    grade.add_argument(
        "--force", action="store_true", help="regrade everything, even the results that are up to date in DIR"
    )
    grade.add_argument(
        "--db",
        metavar="URL",
        default="",
        help="also write every result to this gradebook: an SQLAlchemy URL, "
        "postgresql://user:password@host/course or sqlite:////path/gradebook.db"
        " (nbgrader's tables and autograder_result)",
    )
    grade.add_argument(
        "--shard",
        metavar="i/N",
        default="",
        help="grade only the i-th of N disjoint parts of the class (split by "
        "student id), one per machine, into one --db gradebook",
    )
    grade.add_argument(
        "--solutions", type=Path, default=REPO / "solutions", help="source notebooks (default: %(default)s)"
    )


def _add_check(commands) -> None:
    check = commands.add_parser("check", help="run the visible checks of your own notebook")
    check.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="your chapters/NN_name.ipynb")
    check.add_argument(
        "--timeout",
        type=int,
        default=600,
        metavar="SECONDS",
        help="execution time limit per cell (default: %(default)s)",
    )


def _add_export(commands) -> None:
    export = commands.add_parser("export", help="write DIR/export.csv for the LMS gradebook")
    export.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="the folder that `grade` wrote (it holds grades.csv)"
    )
    export.add_argument("--format", choices=("csv",), default="csv", help="file format (default: %(default)s)")
    export.add_argument(
        "--db",
        metavar="URL",
        default="",
        help="read the whole class from this gradebook (what every `grade --db "
        "URL` shard wrote) and also write DIR/grades.csv and "
        "DIR/summary.html from it",
    )


def _add_book(commands) -> None:
    book = commands.add_parser("book", help="execute the solutions into the book's notebooks")
    book.add_argument("--fast", action="store_true", help="fast mode for the kernel (also when VAELAB_FAST=1)")
    book.add_argument(
        "--out",
        type=Path,
        default=REPO / "book" / "_generated",
        help="output folder; notebooks go to OUT/chapters (default: %(default)s)",
    )
    book.add_argument(
        "--solutions", type=Path, default=REPO / "solutions", help="source notebooks (default: %(default)s)"
    )
    book.add_argument(
        "--timeout", type=int, default=None, metavar="SECONDS", help="execution time limit per cell (default: none)"
    )
    book.add_argument(
        "--jobs", "-j", type=int, default=1, metavar="N", help="execute N notebooks at once (default: %(default)s)"
    )
    book.add_argument(
        "--instructor",
        action="store_true",
        help="instructor edition: the executed solutions unchanged, plus OUT/_toc.yml and "
        "OUT/_config.yml to build it with (see `make book-instructor`)",
    )


def _add_handout(commands) -> None:
    handout = commands.add_parser("handout", help="write the student edition (no answers) into a new folder")
    handout.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="a new or empty folder, outside this repository"
    )
    handout.add_argument(
        "--solved",
        metavar="CHAPTER[,CHAPTER...]",
        default="",
        help="chapters whose solution ships too (reference module and executed solution "
        "notebook), e.g. 01_vae after its deadline",
    )
    handout.add_argument(
        "--solutions", type=Path, default=REPO / "solutions", help="source notebooks (default: %(default)s)"
    )
    handout.add_argument(
        "--chapters", type=Path, default=REPO / "chapters", help="released student notebooks (default: %(default)s)"
    )


#: `similarity.DEFAULT_THRESHOLD`, for the help texts (importing the module would slow every command).
SIMILARITY_DEFAULT = "0.9"


def _add_similarity(commands) -> None:
    similarity = commands.add_parser(
        "similarity", help="write DIR/similarity.csv: answers alike across the class, or like the reference"
    )
    similarity.add_argument(
        "submissions", type=Path, metavar="SUBMISSIONS", help="folder (or .zip) of submissions, as for `grade`"
    )
    similarity.add_argument("--out", type=Path, required=True, metavar="DIR", help="receives similarity.csv")
    similarity.add_argument(
        "--threshold",
        type=similarity_threshold,
        default=None,
        metavar="X",
        help=f"flag pairs at least this similar, in [0, 1] (default: {SIMILARITY_DEFAULT})",
    )
    similarity.add_argument(
        "--solutions", type=Path, default=REPO / "solutions", help="source notebooks (default: %(default)s)"
    )


def similarity_threshold(text: str) -> float:
    """A similarity threshold: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"not a similarity in [0, 1]: {text!r}")
    return value


def memory_size(text: str) -> int:
    """`4G`, `512M`, `100K` or a number of bytes, as bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 4G, 512M)") from None


def _release(args) -> int:
    from .release import release

    return release(args.solutions, args.chapters, args.check)


def _grade(args) -> int:
    from .workers import start_workers

    start_workers()  # the workers' server imports the grader while this process does
    from .batch import Options, grade

    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return grade(
        args.submissions,
        args.out,
        args.solutions,
        Options(
            timeout=args.timeout,
            notebook_timeout=args.notebook_timeout,
            memory_limit=args.memory_limit,
            max_output_bytes=args.max_output,
            max_processes=args.max_processes,
            disk_limit=args.disk_limit,
            isolation=args.isolation,
            jobs=args.jobs,
            force=args.force,
            db=args.db,
            shard=args.shard,
            similarity_threshold=args.similarity_threshold,
        ),
    )


def _check(args) -> int:
    from .check import check

    return check(args.notebook, args.timeout)


def _handout(args) -> int:
    from .handout import HandoutError, build, parse_solved

    try:
        handout = build(args.out, parse_solved(args.solved), args.solutions, args.chapters)
    except HandoutError as error:
        raise UsageError(str(error)) from None
    solved = ", ".join(handout.solved) or "none"
    print(f"wrote the student handout to {handout.root} ({len(handout.files)} files; solved chapters: {solved})")
    return 0


def _export(args) -> int:
    from .feedback import export, write_class_files

    if args.db:
        from .gradebook import ClassGradebook

        database = ClassGradebook(args.db)
        try:
            results = database.results()
        finally:
            database.close()
        if not results:
            raise UsageError(
                f"the gradebook {args.db} holds no results: run `python -m autograder grade ... --db URL` first"
            )
        for path in write_class_files(args.out, results):
            print(f"wrote {path}")
    path = export(args.out, args.format)
    print(f"wrote {path}")
    return 0


def _similarity(args) -> int:
    import tempfile

    from .inputs import find_submissions, submissions_root
    from .notebooks import chapter_sources
    from .similarity import DEFAULT_THRESHOLD, class_report, html_section, report_csv

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    sources = chapter_sources(args.solutions)
    if not sources:
        raise UsageError(f"no source notebooks in {args.solutions}/")
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        found = find_submissions(submissions_root(args.submissions.resolve(), Path(tmp)), list(sources))
        if not found:
            raise UsageError(f"no submissions in {args.submissions}")
        report = class_report(found, sources, threshold)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "similarity.csv").write_text(report_csv(report), encoding="utf-8")
    (args.out / "similarity.html").write_text(html_section(report), encoding="utf-8")
    print(f"{len(report.flagged())} pairs at or above {threshold:g}; wrote {args.out / 'similarity.csv'}")
    return 0


def _book(args) -> int:
    from .book import build

    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return build(args.solutions, args.out, args.fast, args.timeout, instructor=args.instructor, jobs=args.jobs)


#: Each command: (the function that declares its arguments, the function that runs it).
COMMANDS = {
    "release": (_add_release, _release),
    "grade": (_add_grade, _grade),
    "check": (_add_check, _check),
    "export": (_add_export, _export),
    "book": (_add_book, _book),
    "handout": (_add_handout, _handout),
    "similarity": (_add_similarity, _similarity),
}


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns its exit code (2 on usage errors)."""
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a failed release or book build: one line, not a traceback
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
