"""The import rules of ARCHITECTURE.md: the library never imports the grader, the hidden tests
import only the library, the guard only the standard library, the grading modules never import
the library but the trusted judge, and each grader module imports only modules of its own row of
the table or of earlier rows."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The rows of ARCHITECTURE.md's table; a module not listed counts as a command (row 7).
#: The grading modules that may import the library: the trusted judge, which runs no student code.
JUDGES = ("judge",)
ROWS = [
    ("files", "inputs", "notebooks", "report", "result", "guard", "workers"),
    ("sandbox", "bwrap", "cgroups", "diskwatch", "library", "zygote"),
    ("execute", "course"),
    ("preflight", "classify", "feedback", "gradebook", "similarity", "judge"),
    ("runner",),
    ("grade",),
    ("batch", "release", "check", "book"),
    ("cli", "testing", "__main__"),
]
ROW = {module: i for i, row in enumerate(ROWS) for module in row}
COMMANDS = 6


def imports(path: Path) -> set[str]:
    """Absolute module names that `path` imports (relative imports resolved in its package)."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".rstrip(".")
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def test_the_library_never_imports_the_grader():
    offenders = [
        str(p) for p in (REPO / "vaelab").rglob("*.py") if any(n.split(".")[0] == "autograder" for n in imports(p))
    ]
    assert not offenders


def test_the_hidden_tests_import_the_library_only():
    for path in (REPO / "autograder" / "hidden").rglob("*.py"):
        grader = {n for n in imports(path) if n.startswith("autograder.") and not n.startswith("autograder.hidden")}
        assert not grader, path


def test_the_guard_imports_the_standard_library_only():
    names = {n.split(".")[0] for n in imports(REPO / "autograder" / "guard.py")}
    assert names - {"__future__"} <= set(sys.stdlib_module_names)


@pytest.mark.parametrize("path", sorted((REPO / "autograder").glob("*.py")), ids=lambda p: p.stem)
def test_each_grader_module_imports_its_own_row_or_earlier_ones(path):
    row = ROW.get(path.stem, COMMANDS)
    for name in imports(path):
        parts = name.split(".")
        assert parts[:2] != ["autograder", "hidden"], name
        # only the trusted judge and the commands that build what students get (the self-check,
        # the handout) use the library in the grader's process; the rest runs it in a sandbox
        assert parts[0] != "vaelab" or row >= COMMANDS or path.stem in JUDGES, name
        if parts[0] == "autograder" and len(parts) > 1 and parts[1] in ROW:
            assert ROW[parts[1]] <= row, f"{path.stem} (row {row + 1}) imports {parts[1]}"
