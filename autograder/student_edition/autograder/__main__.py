"""``python -m autograder check chapters/NN_name.ipynb [--timeout SECONDS]``: the self-check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaelab import selfcheck


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="The course's self-check.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run a notebook's visible checks (not the hidden tests)")
    check.add_argument("notebook", type=Path)
    check.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(f"error: {args.notebook} does not exist")
        return 2
    return selfcheck.check(args.notebook, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
