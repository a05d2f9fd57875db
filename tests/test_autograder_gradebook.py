"""`grade --db URL` and `--shard i/N`: the class gradebook in a database.

Checked against nbgrader's own reading of its tables (`nbgrader.api.Gradebook`: the score of a
submission, the grades of its cells) and against a plain run into a folder. The PostgreSQL tests
start a server of their own from Debian's package on a free port (`.ci/run` installs it) and skip,
saying why, where none can start. Toy chapter: six students, one file not JSON.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

import pytest
import toy_class

from autograder import testing
from autograder.cli import main
from autograder.gradebook import Shard, shard_of

REPO = Path(__file__).resolve().parent.parent
TOY, CHAPTER = toy_class.TOY, toy_class.CHAPTER
STUDENTS = ("ada", "bob", "cy", "dee", "eve", "fay")


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> Path:
    return toy_class.write_class(
        tmp_path_factory.mktemp("class") / "in", {"fay": {"add": "def add(a, b):\n    return a - b"}}
    )


@pytest.fixture(scope="module")
def plain(submissions, tmp_path_factory) -> Path:
    """The reference: one run into a folder, no database."""
    out = tmp_path_factory.mktemp("plain") / "out"
    testing.run_grade(submissions, out, TOY, timeout=60)
    assert main(["export", "--out", str(out)]) == 0
    return out


def rows(path: Path, key=("student", "chapter")) -> dict:
    return {tuple(r[k] for k in key): r for r in testing.read_csv(path)}


def nbgrader_view(url: str) -> dict:
    """What nbgrader itself reads from the gradebook: per student, the submission's score and
    maximum, and each cell's (auto_score, manual_score, needs_manual_grade)."""
    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gradebook = Gradebook(url)
        try:
            return {
                s.student.id: (
                    s.score,
                    s.max_score,
                    {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in s.notebooks[0].grades},
                )
                for s in gradebook.assignment_submissions(CHAPTER)
            }
        finally:
            gradebook.close()


def check_against_plain(url: str, plain: Path, students=STUDENTS) -> None:
    """The gradebook at `url` says what the plain run's CSV files say, for `students`."""
    grades, cells = (
        rows(plain / "grades.csv"),
        rows(plain / "scores_by_function.csv", ("student", "chapter", "grade_id")),
    )
    view = nbgrader_view(url)
    for student in students:
        row = grades[student, CHAPTER]
        if row["status"] == "invalid":
            assert student not in view, "a file that was not graded has no nbgrader submission"
            continue
        score, maximum, by_cell = view[student]
        assert score == float(row["score"])  # the written answer waits for a human: 0 so far
        assert maximum == float(row["max_score"]) + float(row["manual_max"])
        for (who, _, grade_id), cell in cells.items():
            if who != student:
                continue
            auto, manual, needs_manual = by_cell[grade_id]
            if cell["kind"] == "auto":
                assert (auto, manual, needs_manual) == (float(cell["score"]), None, False)
            else:
                assert (manual, needs_manual) == (None, True)


def grade(submissions: Path, out: Path, *options: str) -> str:
    _, _, printed = testing.run_grade(submissions, out, TOY, timeout=60, options=options)
    return printed


# ---------------------------------------------------------------------------------------------
# Shards and usage errors (no database needed)


def test_shards_split_any_class_into_disjoint_parts_by_student():
    ids = [f"student{i:04d}" for i in range(3000)] + ["", "Ana Lúcia", "x" * 300]
    for count in (1, 2, 3, 7):
        owners = {s: [i for i in range(1, count + 1) if Shard(i, count).owns(s)] for s in ids}
        assert all(len(found) == 1 for found in owners.values())
        sizes = [sum(found == [i] for found in owners.values()) for i in range(1, count + 1)]
        assert max(sizes) - min(sizes) < 0.15 * len(ids) / count  # balanced
        assert all(shard_of(s, count) == owners[s][0] for s in ids)  # depends on the id alone


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--shard", "1/2"), "--shard needs --db"),
        (("--shard", "0/2", "--db", "sqlite:///x.db"), "expected i/N with 1 <= i <= N"),
        (("--shard", "3/2", "--db", "sqlite:///x.db"), "expected i/N with 1 <= i <= N"),
        (("--shard", "half", "--db", "sqlite:///x.db"), "expected i/N with 1 <= i <= N"),
        (("--db", "not a url"), "is not a database URL"),
        (
            ("--db", "postgresql://teacher:s3cret@127.0.0.1:1/course"),
            "cannot open the gradebook postgresql://teacher:***@127.0.0.1:1/course",
        ),
    ],
)
def test_bad_options_stop_before_grading_and_say_why(submissions, tmp_path, capsys, options, message):
    out = tmp_path / "out"
    code = main(["grade", str(submissions), "--out", str(out), "--solutions", str(TOY), *options])
    error = capsys.readouterr().err
    assert code == 2 and message in error and "s3cret" not in error
    assert not (out / "results").exists()


def test_export_of_an_empty_gradebook_says_so(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["export", "--db", url, "--out", str(tmp_path / "out")]) == 2
    assert "holds no results" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# SQLite: one machine


def test_the_gradebook_holds_what_the_csv_files_say(submissions, plain, tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    printed = grade(submissions, tmp_path / "out", "--db", url, "--jobs", "2")
    assert "6 results written" in printed
    check_against_plain(url, plain)
    assert main(["export", "--db", url, "--out", str(tmp_path / "exported")]) == 0
    for name in ("export.csv", "grades.csv", "scores_by_function.csv"):
        assert (tmp_path / "exported" / name).read_bytes() == (plain / name).read_bytes(), name


def dump(path: Path) -> dict:
    """Every row of every table of an SQLite gradebook, sorted (ids included)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(map(repr, db.execute(f'SELECT * FROM "{t}"'))) for t in tables}


def stored(path: Path) -> list:
    """The rows of autograder_result, the time each grading took left out."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        found = db.execute("SELECT * FROM autograder_result ORDER BY student").fetchall()
    return [(*row[:-1], {k: v for k, v in json.loads(row[-1]).items() if k != "seconds"}) for row in found]


def test_a_resumed_or_repeated_run_writes_the_same_rows(submissions, plain, tmp_path):
    """A batch killed before it wrote to the database (its results are in DIR) is resumed: the
    kept results are written. Running again changes no row and doubles none, and leaves the
    grades a human gave to the written answers alone, even with --force."""
    direct = tmp_path / "direct.db"
    grade(submissions, tmp_path / "a", "--db", f"sqlite:///{direct}")
    out = tmp_path / "b"
    shutil.copytree(plain / "results", out / "results")  # graded, never written to a database
    resumed = tmp_path / "resumed.db"
    printed = grade(submissions, out, "--db", f"sqlite:///{resumed}")
    assert printed.count("unchanged, kept") == 6
    assert stored(resumed) == stored(direct)
    assert nbgrader_view(f"sqlite:///{resumed}") == nbgrader_view(f"sqlite:///{direct}")

    before = dump(resumed)
    grade(submissions, out, "--db", f"sqlite:///{resumed}")
    assert dump(resumed) == before

    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gradebook = Gradebook(f"sqlite:///{resumed}")
        manual = gradebook.find_grade("question_symmetry", CHAPTER, CHAPTER, "ada")
        manual.manual_score = 1.0
        gradebook.db.commit()
        gradebook.close()
    grade(submissions, out, "--db", f"sqlite:///{resumed}", "--force")
    score, maximum, cells = nbgrader_view(f"sqlite:///{resumed}")["ada"]
    assert cells["question_symmetry"] == (None, 1.0, False) and score == maximum == 6


# ---------------------------------------------------------------------------------------------
# PostgreSQL: several machines


def _postgres_bin() -> Path | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "pg_ctl").exists():
            return Path(folder)
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """The URL of a PostgreSQL server started for these tests (trust authentication, loopback
    only, no fsync), stopped afterwards."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run installs it)")
    pytest.importorskip("psycopg", reason='the PostgreSQL driver: pip install -e ".[db]"')
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server")
        if not shutil.which("runuser"):
            pytest.skip("running as root and runuser is missing")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = root / "data"

    def run(*args):
        return subprocess.run(
            prefix + [str(a) for a in args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    made = run(bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
    if made.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {made.stderr.strip()[-300:]}")
    started = run(
        bindir / "pg_ctl",
        "-D",
        data,
        "-l",
        root / "log",
        "-w",
        "-t",
        "60",
        "-o",
        f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off",
        "start",
    )
    if started.returncode:
        log = (root / "log").read_text(errors="replace")[-300:] if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {started.stderr.strip()[-300:]} {log}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database(postgres) -> str:
    """A new, empty database on the test server."""
    import psycopg

    name = f"course_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres}/{name}"


def test_two_machines_grade_disjoint_shards_into_one_postgres_gradebook(submissions, plain, database, tmp_path):
    parts = {i: sorted(s for s in STUDENTS if shard_of(s, 2) == i) for i in (1, 2)}
    assert parts[1] and parts[2], "the class must reach both shards"
    # The two shards run at the same time against the empty database, as two machines would.
    shards = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autograder",
                "grade",
                str(submissions),
                "--out",
                str(tmp_path / f"shard{i}"),
                "--solutions",
                str(TOY),
                "--timeout",
                "60",
                "--db",
                database,
                "--shard",
                f"{i}/2",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in (1, 2)
    ]
    for i, process in zip((1, 2), shards):
        printed, _ = process.communicate(timeout=600)
        assert process.returncode == 0, printed
        assert f"shard {i}/2: {len(parts[i])} of the 6 files" in printed
        graded = sorted(s for s, _ in rows(tmp_path / f"shard{i}" / "grades.csv"))
        assert graded == parts[i]

    check_against_plain(database, plain)
    exported = tmp_path / "exported"
    assert main(["export", "--db", database, "--out", str(exported)]) == 0
    for name in ("export.csv", "grades.csv", "scores_by_function.csv"):
        assert (exported / name).read_bytes() == (plain / name).read_bytes(), name

    # A shard run again (its results kept) rewrites the same rows: nothing doubled.
    before = nbgrader_view(database)
    grade(submissions, tmp_path / "shard1", "--db", database, "--shard", "1/2")
    assert nbgrader_view(database) == before
    assert main(["export", "--db", database, "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "grades.csv").read_bytes() == (plain / "grades.csv").read_bytes()
