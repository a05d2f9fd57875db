"""The command line: `python -m autograder release|grade|book` (see the package docstring)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m autograder", description=(
        "Release student notebooks, grade submissions and build the book's notebooks."))
    commands = main.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="regenerate chapters/ from solutions/")
    release.add_argument("--solutions", type=Path, default=REPO / "solutions",
                         help="source notebooks (default: %(default)s)")
    release.add_argument("--chapters", type=Path, default=REPO / "chapters",
                         help="student notebooks to write (default: %(default)s)")
    release.add_argument("--check", action="store_true",
                         help="write nothing; exit 1 naming the notebooks that differ")

    grade = commands.add_parser("grade", help="autograde a folder or .zip of submissions")
    grade.add_argument("submissions", type=Path, metavar="SUBMISSIONS",
                       help="folder (or .zip) of <student>/<chapter>.ipynb")
    grade.add_argument("--out", type=Path, required=True, metavar="DIR",
                       help="receives grades.csv, scores_by_function.csv, feedback/, logs/")
    grade.add_argument("--timeout", type=int, default=180, metavar="SECONDS",
                       help="execution time limit per cell (default: %(default)s)")
    grade.add_argument("--solutions", type=Path, default=REPO / "solutions",
                       help="source notebooks (default: %(default)s)")

    book = commands.add_parser("book", help="execute the solutions into the book's notebooks")
    book.add_argument("--fast", action="store_true",
                      help="fast mode for the kernel (also when VAELAB_FAST=1)")
    book.add_argument("--out", type=Path, default=REPO / "book" / "_generated",
                      help="output folder; notebooks go to OUT/chapters (default: %(default)s)")
    book.add_argument("--solutions", type=Path, default=REPO / "solutions",
                      help="source notebooks (default: %(default)s)")
    book.add_argument("--timeout", type=int, default=None, metavar="SECONDS",
                      help="execution time limit per cell (default: none)")
    return main


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns its exit code (2 on usage errors)."""
    args = parser().parse_args(argv)
    # Imported here so that `--help` stays quick.
    from .grade import UsageError
    try:
        if args.command == "release":
            from .release import release
            return release(args.solutions, args.chapters, args.check)
        if args.command == "grade":
            from .grade import grade
            return grade(args.submissions, args.out, args.solutions, args.timeout)
        from .book import build
        return build(args.solutions, args.out, args.fast, args.timeout)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a failed release or book build: one line, not a traceback
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
