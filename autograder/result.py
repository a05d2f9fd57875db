"""The result of one submission, as grading, feedback, the gradebook and the export all read it.

- `CellScore`: the score of one graded cell (`kind` `auto`: a test cell; `manual`: a written
  answer, whose `score` is None while it waits for a human grader);
- `Result`: one submission's outcome (status, scores, message, notes, named mistakes);
- `STATUSES`, `NOT_GRADED`: what a status can be, and which statuses mean "no scores";
- `GRADES_COLUMNS`, `CELL_COLUMNS`: the columns of `grades.csv` and `scores_by_function.csv`
  (the grading contract: tools read them), and `grades_csv` / `cells_csv` that write them
  through `csv_text`, which neutralises spreadsheet formulas in every cell (`cell_text`);
- `load` / `save`: `results/<student>/<chapter>.json`, written atomically.

A result is a `Result` everywhere inside the grader; it becomes JSON only on disk and in the
database (`to_json` / `from_json`), in a format that older results still load from: `cells` is a
list of `[grade_id, kind, score, max_score]`, and `score` is stored next to the fields.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .files import UnsafeFile, read_regular, write_atomic

#: The largest result file read back (a result holds capped messages and notes).
MAX_RESULT_BYTES = 16 << 20

#: Every status a result can have. `graded` to `crashed`: the notebook ran and was scored;
#: `invalid` and `error`: it was not (see `autograder.grade`).
STATUSES = ("graded", "missing_cells", "timeout", "memory", "crashed", "invalid", "error")
#: The statuses of a file that was not graded: no scores, a short page saying why.
NOT_GRADED = ("invalid", "error")
GRADES_COLUMNS = ["student", "chapter", "score", "max_score", "manual_max", "status", "message", "name", "file"]
CELL_COLUMNS = ["student", "chapter", "grade_id", "kind", "score", "max_score"]


@dataclass(frozen=True)
class CellScore:
    """The score of one graded cell; `score` is None for a written answer that waits for a
    human grader."""

    grade_id: str
    kind: str
    score: float | None
    max_score: float

    @property
    def passed(self) -> bool:
        return (self.score or 0.0) >= self.max_score

    def to_json(self) -> list:
        return [self.grade_id, self.kind, self.score, self.max_score]

    @classmethod
    def from_json(cls, data: list) -> CellScore:
        return cls(*data)


@dataclass
class Result:
    """The outcome of one submission (see the module docstring)."""

    student: str
    chapter: str
    status: str
    message: str = ""
    cells: list[CellScore] = field(default_factory=list)
    max_score: float = 0.0
    manual_max: float = 0.0
    name: str = ""
    file: str = ""
    notes: list[str] = field(default_factory=list)
    mistakes: dict[str, str] = field(default_factory=dict)
    functions: list[str] = field(default_factory=list)
    isolation: str = ""
    digest: str = ""
    seconds: float = 0.0

    @property
    def score(self) -> float:
        """The autograded points."""
        return sum(c.score or 0.0 for c in self.cells if c.kind == "auto")

    @property
    def graded(self) -> bool:
        """Whether the notebook ran and was scored (`status` not in `NOT_GRADED`)."""
        return self.status not in NOT_GRADED

    def to_json(self) -> dict:
        data = asdict(self)
        data["cells"] = [c.to_json() for c in self.cells]
        return {**data, "score": self.score}

    @classmethod
    def from_json(cls, data: dict) -> Result:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["cells"] = [CellScore.from_json(c) for c in values.get("cells", [])]
        return cls(**values)

    def row(self) -> dict[str, str]:
        """Its row of `grades.csv`."""
        return {
            "student": self.student,
            "chapter": self.chapter,
            "score": f"{self.score:g}",
            "max_score": f"{self.max_score:g}",
            "manual_max": f"{self.manual_max:g}",
            "status": self.status,
            "message": self.message,
            "name": self.name,
            "file": self.file,
        }

    def cell_rows(self) -> list[dict[str, str]]:
        """Its rows of `scores_by_function.csv`."""
        return [
            {
                "student": self.student,
                "chapter": self.chapter,
                "grade_id": c.grade_id,
                "kind": c.kind,
                "score": "" if c.score is None else f"{c.score:g}",
                "max_score": f"{c.max_score:g}",
            }
            for c in self.cells
        ]


#: A cell a spreadsheet reads as a formula starts with one of these (OWASP's CSV injection rule).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A plain decimal number (as `f"{x:g}"` writes one): a spreadsheet reads it as a number, never a formula.
PLAIN_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?", re.I)


def cell_text(value: object) -> str:
    """`value` as a CSV cell that no spreadsheet runs: one that starts with `= + - @`, a tab or
    a carriage return gets a leading apostrophe (OWASP), unless it is a plain decimal number
    such as `-1.5`. Decided per value rather than per column: `csv_text` writes files whose
    columns vary (`export.csv` has one per chapter), and a value that is a plain number is safe
    in any column while one that is not is neutralised in every column, numeric or not."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(columns: list[str], rows: list[dict[str, str]]) -> str:
    """A CSV file (header, then `rows`), `\\n` line ends, every cell through `cell_text`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[cell_text(c) for c in columns], lineterminator="\n")
    writer.writeheader()
    writer.writerows({cell_text(k): cell_text(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def grades_csv(results: list[Result]) -> str:
    """`grades.csv`: one row per result, in order."""
    return csv_text(GRADES_COLUMNS, [r.row() for r in results])


def cells_csv(results: list[Result]) -> str:
    """`scores_by_function.csv`: one row per graded cell of every result, in order."""
    return csv_text(CELL_COLUMNS, [row for r in results for row in r.cell_rows()])


def load(path: Path) -> Result | None:
    """The result stored at `path`; None when there is none or it cannot be read."""
    try:
        return Result.from_json(json.loads(read_regular(path, MAX_RESULT_BYTES)))
    except (OSError, UnsafeFile, ValueError, TypeError, RecursionError):
        return None


def save(path: Path, result: Result) -> None:
    """Writes `result` to `path` atomically."""
    write_atomic(path, json.dumps(result.to_json(), indent=1, sort_keys=True) + "\n")
