"""The class gradebook in a database: `grade --db URL [--shard i/N]` and `export --db URL`.

`--db URL` takes an SQLAlchemy URL: `postgresql://user:password@host:5432/course` (the driver,
psycopg 3, comes with `pip install -e ".[db]"`) or `sqlite:////absolute/path/gradebook.db`.
Every result is written there as soon as it is graded, in two forms:

- **nbgrader's own tables**, through `nbgrader.api.Gradebook`: one assignment and one notebook per
  chapter (its grade cells with their points), one student per student id, one submission per
  graded notebook with the `auto_score` of every test cell. nbgrader's tools work on it
  (`nbgrader export --db URL`, the formgrader), and the written answers wait there for a human
  grader: a re-run never touches a `manual_score`. A file that could not be graded (`invalid`,
  `error`) has no nbgrader submission (an earlier one of that student and chapter is removed).
- **`autograder_result`**: one row per (student, chapter) with the status, score, message and
  the whole result (`result`, JSON), from which `export --db URL` writes the class's files.

Writes are upserts keyed by (student, chapter), so a re-run, or a run resumed after `kill -9`,
leaves the same rows: nothing lost, nothing doubled.

Concurrency: on one machine only the batch's coordinating process writes (the workers of `--jobs`
write result files, see `autograder.batch`), so SQLite is safe there. Several machines (`--shard
i/N`) need a server: they write disjoint students, and the rows they share (the assignments, the
notebooks, the grade cells, the tables themselves) are created under a PostgreSQL advisory lock.

Sharding: student `s` belongs to shard `1 + int(sha256(s), 16) % N`. It depends on the student id
alone, so machines that see different copies of a class (a late file added) still split it into
disjoint parts, and one student's chapters are graded on one machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from . import notebooks
from .inputs import UsageError
from .result import Result

#: The key of the PostgreSQL advisory lock that serialises the creation of shared rows.
LOCK_KEY = 236_2026


@dataclass(frozen=True)
class Shard:
    """`--shard i/N`: the `index`-th (1-based) of `count` disjoint parts of a class."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise UsageError(
                f"--shard {text!r}: expected i/N with 1 <= i <= N, e.g. 1/3, 2/3 and 3/3 on three machines"
            )
        return cls(int(match[1]), int(match[2]))

    def owns(self, student: str) -> bool:
        return shard_of(student, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(student: str, count: int) -> int:
    """The shard (1..count) that grades `student` (see the module docstring)."""
    return 1 + int(hashlib.sha256(student.encode("utf-8")).hexdigest(), 16) % count


def display_url(url: str) -> str:
    """`url` with its password hidden, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", url)


def chapter_cells(source: Path) -> dict[str, tuple[str, float]]:
    """`{grade_id: (kind, points)}` of the graded cells of a chapter's source notebook."""
    return notebooks.graded_cells(notebooks.read(source))


class ClassGradebook:
    """The gradebook at `url`; raises `UsageError` with the reason when it cannot be opened."""

    def __init__(self, url: str):
        self.url = url
        shown = display_url(url)
        try:
            from sqlalchemy import Column, Float, MetaData, String, Table, Text, create_engine
            from sqlalchemy.engine import make_url

            parsed = make_url(url)
        except Exception as error:
            raise UsageError(
                f"--db {url!r} is not a database URL ({error}); e.g. "
                "postgresql://user@host/course or sqlite:////path/gradebook.db"
            ) from None
        self.postgres = parsed.get_backend_name() == "postgresql"
        try:
            self.engine = create_engine(url, future=True)
        except ModuleNotFoundError as error:
            raise UsageError(
                f"--db {shown}: the database driver is not installed ({error}); "
                'for PostgreSQL: pip install -e ".[db]" (psycopg)'
            ) from None
        except Exception as error:
            raise UsageError(f"--db {shown}: {error}") from None
        metadata = MetaData()
        self.table = Table(
            "autograder_result",
            metadata,
            Column("student", String(255), primary_key=True),
            Column("chapter", String(128), primary_key=True),
            Column("status", String(32), nullable=False),
            Column("score", Float, nullable=False),
            Column("max_score", Float, nullable=False),
            Column("manual_max", Float, nullable=False),
            Column("message", Text, nullable=False),
            Column("name", Text, nullable=False),
            Column("file", Text, nullable=False),
            Column("digest", String(64), nullable=False),
            Column("result", Text, nullable=False),
        )
        try:
            with self._lock():
                from nbgrader.api import Gradebook

                self.gradebook = Gradebook(url)  # its schema's revision: `notebooks.alembic_head`
                metadata.create_all(self.engine)
        except UsageError:
            raise
        except Exception as error:
            raise UsageError(f"cannot open the gradebook {shown}: {one_line(error)}") from None
        self.structures: set[str] = set()

    @contextlib.contextmanager
    def _lock(self):
        """Held while rows that several machines share are created (PostgreSQL only)."""
        if not self.postgres:
            yield
            return
        from sqlalchemy import text

        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                connection.commit()

    def add_chapter(self, chapter: str, cells: dict[str, tuple[str, float]]) -> None:
        """Creates (or updates) the chapter's assignment, notebook and grade cells."""
        if chapter in self.structures:
            return
        with self._lock():
            gb = self.gradebook
            gb.update_or_create_assignment(chapter)
            gb.update_or_create_notebook(chapter, chapter)
            for grade_id, (kind, points) in cells.items():
                gb.update_or_create_grade_cell(
                    grade_id, chapter, chapter, max_score=points, cell_type="markdown" if kind == "manual" else "code"
                )
                if kind == "manual":  # a written answer: also a solution cell, as nbgrader has it
                    gb.update_or_create_solution_cell(grade_id, chapter, chapter)
        self.structures.add(chapter)

    def record(self, result: Result, cells: dict[str, tuple[str, float]] | None) -> None:
        """Writes one result; `cells` is the chapter's structure (`chapter_cells`), None for a
        file that is no chapter notebook."""
        from sqlalchemy import delete, insert
        from sqlalchemy.exc import SAWarning

        gb = self.gradebook
        try:
            with warnings.catch_warnings():
                # nbgrader's add_submission builds the rows under autoflush, which SQLAlchemy
                # warns about; the rows are added together right after.
                warnings.simplefilter("ignore", SAWarning)
                self._record_nbgrader(result, cells)
            row = {
                "student": result.student,
                "chapter": result.chapter,
                "status": result.status,
                "score": float(result.score),
                "max_score": float(result.max_score),
                "manual_max": float(result.manual_max),
                "message": result.message,
                "name": result.name,
                "file": result.file,
                "digest": result.digest,
                "result": json.dumps(result.to_json(), sort_keys=True),
            }
            table = self.table
            with self.engine.begin() as connection:  # one transaction: the row is replaced
                connection.execute(
                    delete(table).where((table.c.student == result.student) & (table.c.chapter == result.chapter))
                )
                connection.execute(insert(table).values(**row))
        except Exception:
            gb.db.rollback()
            raise

    def _record_nbgrader(self, result: Result, cells: dict | None) -> None:
        """The nbgrader side of `record`."""
        from nbgrader.api import MissingEntry

        student, chapter = result.student, result.chapter
        if cells is None or not student:
            return
        gb = self.gradebook
        self.add_chapter(chapter, cells)
        gb.update_or_create_student(student, **_names(result.name))
        if not result.graded:
            with contextlib.suppress(MissingEntry):
                gb.find_submission(chapter, student)
                gb.remove_submission(chapter, student)
            return
        gb.update_or_create_submission(chapter, student)
        for cell in result.cells:
            grade = gb.find_grade(cell.grade_id, chapter, chapter, student)
            if cell.kind == "auto":
                grade.auto_score = cell.score
                grade.needs_manual_grade = False
            else:  # a human grades it: only the flag, never the score
                grade.needs_manual_grade = grade.manual_score is None
        gb.db.commit()

    def results(self) -> list[Result]:
        """Every result in the gradebook (all shards), sorted by student and chapter."""
        from sqlalchemy import select

        with self.engine.connect() as connection:
            rows = connection.execute(
                select(self.table.c.result).order_by(self.table.c.student, self.table.c.chapter)
            ).all()
        return [Result.from_json(json.loads(row.result)) for row in rows]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.gradebook.close()
        self.engine.dispose()


def _names(name: str) -> dict[str, str]:
    """nbgrader's first and last name from the LMS's full name (empty when there is none)."""
    parts = name.split()
    if not parts:
        return {}
    return {"first_name": " ".join(parts[:-1]) or parts[0], "last_name": parts[-1] if len(parts) > 1 else ""}


def one_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
