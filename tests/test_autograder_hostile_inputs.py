"""Hostile submissions, written as an attacker would: links, FIFOs, devices, zip bombs, crafted
names and ids, deep or undecodable JSON, formulas for the spreadsheet (issue 11, items 2 and 3).
None of them may read outside SUBMISSIONS, hang, exhaust memory, claim another student's row or
stop the batch: each becomes its own `invalid` row. Only the last test runs a kernel."""

from __future__ import annotations

import csv
import os
import stat
import struct
import threading
import time
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

from autograder import inputs, preflight, testing
from autograder.files import UnsafeFile, read_regular
from autograder.inputs import extract_zip, find_submissions, open_submissions
from autograder.preflight import InvalidSubmission, read_submission
from autograder.result import Result, grades_csv

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "fixtures" / "toy" / "solutions"
CHAPTERS = ["00_toy", "01_vae"]
NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def rows(found):
    return {s.file: s for s in found}


def within(seconds, function, *args):
    """`function(*args)` run in a thread that must finish within `seconds` (a FIFO must not hang)."""
    box = {}

    def target():
        try:
            box["value"] = function(*args)
        except Exception as error:  # raised again in the test's thread
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{function.__name__} hung"
    if "error" in box:
        raise box["error"]
    return box["value"]


# ---------------------------------------------------------------------------------------------
# Links and special files in a SUBMISSIONS folder


def test_links_fifos_and_devices_in_a_folder_are_reported_not_read(tmp_path):
    root = tmp_path / "class"
    for student in ("zoe", "ann", "cy", "dee", "eve"):
        (root / student).mkdir(parents=True)
    (root / "zoe" / "00_toy.ipynb").symlink_to("/etc/passwd")
    (root / "ann" / "00_toy.ipynb").symlink_to(TOY / "00_toy.ipynb")  # the solution itself
    (root / "cy" / "00_toy.ipynb").symlink_to("/dev/zero")
    os.mkfifo(root / "dee" / "00_toy.ipynb")
    (root / "eve" / "00_toy.ipynb").write_bytes(NOTEBOOK)
    (root / "bob").symlink_to(TOY)  # a linked folder: the solutions must not be walked
    found = rows(within(10, find_submissions, root, CHAPTERS))
    assert found["eve/00_toy.ipynb"].problem == ""
    for name in ("zoe/00_toy.ipynb", "ann/00_toy.ipynb", "cy/00_toy.ipynb", "bob"):
        assert "symbolic link: not followed" in found[name].problem
    assert "not a regular file" in found["dee/00_toy.ipynb"].problem
    assert not any(f.startswith("bob/") for f in found)
    assert found["zoe/00_toy.ipynb"].student == "zoe"  # each row stays its own student's


def test_the_bounded_reader_refuses_links_fifos_devices_and_big_files(tmp_path):
    (tmp_path / "passwd").symlink_to("/etc/passwd")
    (tmp_path / "zero").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big").write_bytes(b"x" * 2000)
    for name, why in (("passwd", "symbolic link"), ("zero", "symbolic link"), ("fifo", "a FIFO"), ("big", "cap")):
        with pytest.raises(UnsafeFile, match=why):
            within(10, read_regular, tmp_path / name, 1000)
    with pytest.raises(UnsafeFile, match="character device"):
        read_regular("/dev/zero", 1000)  # the device itself, not a link to it
    for name in ("passwd", "fifo", "zero"):
        with pytest.raises(InvalidSubmission, match="not read"):
            within(10, read_submission, tmp_path / name)
    assert read_regular(tmp_path / "big", 2000) == b"x" * 2000


# ---------------------------------------------------------------------------------------------
# Zip archives


def link_member(name: str, target: str) -> tuple[zipfile.ZipInfo, str]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def test_zip_members_with_hostile_names_or_links_are_refused_one_by_one(tmp_path):
    archive = tmp_path / "export.zip"
    hostile = {
        "../evil/00_toy.ipynb": "'..' part",
        "/tmp/abs_00_toy.ipynb": "absolute path",
        "zoe/\x1b[2J00_toy.ipynb": "control character",
        "zoe\\..\\..\\00_toy.ipynb": "backslash",
        "zoe/" + "x" * 300 + "_00_toy.ipynb": "too long",
        "zoe/./00_toy.ipynb": "'..' part",
    }
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("eve/00_toy.ipynb", NOTEBOOK)
        for name in hostile:
            zip_file.writestr(name, NOTEBOOK)
        zip_file.writestr(*link_member("ann/00_toy.ipynb", "/etc/passwd"))
        zip_file.writestr(*link_member("cy/00_toy.ipynb", str(TOY / "00_toy.ipynb")))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicated name
            zip_file.writestr("eve/00_toy.ipynb", b"second copy")
    root, refused = open_submissions(archive, tmp_path / "work")
    why = dict(refused)
    for name, reason in hostile.items():
        assert reason in why[name], (name, why.get(name))
    assert "symbolic link" in why["ann/00_toy.ipynb"] and "symbolic link" in why["cy/00_toy.ipynb"]
    assert (root / "eve" / "00_toy.ipynb").read_bytes() == NOTEBOOK  # the first copy; the second is refused
    extracted = sorted(p.relative_to(tmp_path / "work").as_posix() for p in (tmp_path / "work").rglob("*"))
    assert extracted == ["submissions", "submissions/eve", "submissions/eve/00_toy.ipynb"]
    assert not (tmp_path / "evil").exists() and not Path("/tmp/abs_00_toy.ipynb").exists()
    found = find_submissions(root, CHAPTERS, refused)
    assert len({s.key for s in found}) == len(found) == len(hostile) + 4
    assert [s.file for s in found if not s.problem] == ["eve/00_toy.ipynb"]
    assert {s.student for s in found if "symbolic link" in s.problem} == {"ann", "cy"}
    assert all(".." not in s.key.split("/") and not s.key.startswith("/") for s in found)


def deflate_zip(path: Path, name: str, size_mib: int, header_size: int | None = None) -> None:
    """A zip of one deflated member of `size_mib` MiB of zeros, built from one compressed block
    repeated (seconds instead of minutes); `header_size` makes its headers lie about its size."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    data = block * size_mib + b"\x03\x00"
    crc, zero = 0, bytes(1 << 20)
    for _ in range(size_mib):
        crc = zlib.crc32(zero, crc)
    size, raw = header_size or size_mib << 20, name.encode()
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, len(raw), 0) + raw
    central = struct.pack(
        "<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), size, len(raw), 0, 0, 0, 0, 0o644 << 16, 0
    )
    central += raw
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)


@pytest.mark.parametrize("header_size", [None, 1 << 20], ids=["honest header", "lying header"])
def test_a_zip_bomb_is_not_extracted_whole(tmp_path, header_size):
    archive = tmp_path / "bomb.zip"
    deflate_zip(archive, "bob/00_toy.ipynb", 1024, header_size)  # 1 GiB of zeros in about 1 MB
    assert archive.stat().st_size < 4 << 20
    tracemalloc.start()
    start = time.monotonic()
    refused = extract_zip(archive, tmp_path / "out")
    seconds, peak = time.monotonic() - start, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 10 and peak < 16 << 20, (seconds, peak)
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= inputs.MAX_FILE_BYTES
    if header_size is None:
        assert "over the cap" in dict(refused)["bob/00_toy.ipynb"]


def test_a_zip_of_many_members_stops_at_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_MEMBERS", 50)
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        for index in range(400):
            zip_file.writestr(f"s{index:03d}/00_toy.ipynb", NOTEBOOK)
    root, refused = open_submissions(archive, tmp_path / "work")
    assert len(list(root.iterdir())) == 50
    assert refused == [("", "350 members past the first 50: not read")]
    found = find_submissions(root, CHAPTERS, refused)
    assert len(found) == 51 and sum(bool(s.problem) for s in found) == 1


def test_a_zip_whose_members_add_up_past_the_total_cap_is_cut_there(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_TOTAL_BYTES", 3 * len(NOTEBOOK))
    archive = tmp_path / "total.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zip_file:
        for student in ("a", "b", "c", "d", "e"):
            zip_file.writestr(f"{student}/00_toy.ipynb", NOTEBOOK)
    root, refused = open_submissions(archive, tmp_path / "work")
    assert sorted(p.name for p in root.iterdir()) == ["a", "b", "c"]
    assert [name for name, _ in refused] == ["d/00_toy.ipynb", "e/00_toy.ipynb"]


# ---------------------------------------------------------------------------------------------
# The notebook's JSON


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[" * 100_000, "nested 100000 deep"),
        (b'{"cells": ' + b"[" * 5000 + b"]" * 5000 + b', "nbformat": 4}', "nested 5001 deep"),
        (b'{"cells": [{"source": "\\ud800"}], "nbformat": 4}', "lone UTF-16 surrogate"),
        (b'{"cells": [], "nbformat": 4, "x": "\\udfff\\ud83d"}', "lone UTF-16 surrogate"),
        (b'{"cells": [], "nbformat": 4, "x": "\xff\xfe"}', "not UTF-8"),
        (b'{"cells": [], "nbformat": 4, "x": "\xed\xa0\x80"}', "not UTF-8"),  # a surrogate in raw bytes
    ],
)
def test_hostile_json_makes_the_file_invalid_with_a_reason(tmp_path, data, message):
    path = tmp_path / "00_toy.ipynb"
    path.write_bytes(data)
    with pytest.raises(InvalidSubmission, match=message):
        read_submission(path)


def test_brackets_inside_strings_do_not_count_and_an_emoji_pair_is_fine(tmp_path):
    path = tmp_path / "00_toy.ipynb"
    quoted = b'"' + b"[" * 10_000 + b'\\"' + b"{" * 10_000 + b'"'
    path.write_bytes(NOTEBOOK[:-1] + b', "metadata": {"x": ' + quoted + b', "y": "\\ud83d\\ude00"}}')
    assert preflight.json_depth(path.read_bytes()) == 2
    assert read_submission(path).metadata["y"] == "\U0001f600"


def test_an_oversized_notebook_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight, "MAX_NOTEBOOK_BYTES", 1000)
    path = tmp_path / "00_toy.ipynb"
    path.write_bytes(NOTEBOOK[:-1] + b', "pad": "' + b"x" * 2000 + b'"}')
    with pytest.raises(InvalidSubmission, match="over the cap of 1000 bytes"):
        read_submission(path)


# ---------------------------------------------------------------------------------------------
# Identity: crafted LMS names and ids


def make_tree(root: Path, names) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(NOTEBOOK)
    return root


BB = "Chapter 0_{}_attempt_{}_{}"
CLAIMS = [  # (file name of the attacker, the id it must not get)
    BB.format("mallory", "2024-03-01-10-00-00", "x_victim_attempt_2099-01-01-00-00-00_00_toy.ipynb"),
    "Mallory_555_assignsubmission_file_x_999_assignsubmission_file_00_toy.ipynb",
    "mallory_555_666_x_999_assignsubmission_file_00_toy.ipynb",
    "mallory_555_666_Chapter 0_victim_attempt_2099-01-01-00-00-00_00_toy.ipynb",
    "Eve_999_assignsubmission_file__555_assignsubmission_file_00_toy.ipynb",  # the marker in the full name
]


def test_a_crafted_file_name_never_claims_another_students_id(tmp_path):
    honest = [BB.format("victim", "2024-03-01-10-00-00", "00_toy.ipynb"), "Vic_999_assignsubmission_file_00_toy.ipynb"]
    found = find_submissions(make_tree(tmp_path, honest + CLAIMS), CHAPTERS)
    by_file = rows(found)
    for name in honest:  # the victims keep their own file, graded
        assert by_file[name].problem == "" and by_file[name].chapter == "00_toy"
    assert {(s.student, s.chapter) for s in found if not s.problem} == {
        ("victim", "00_toy"),
        ("999", "00_toy"),
        ("mallory", "00_toy"),
    }
    assert by_file[CLAIMS[0]].student == "mallory"  # Blackboard: the first, LMS-written, attempt part
    for name in CLAIMS[1:]:  # several readings: refused, under no student
        assert by_file[name].student == "" and "cannot tell the student" in by_file[name].problem
    folder = "Eve_999_assignsubmission_file__555_assignsubmission_file_/00_toy.ipynb"
    assert find_submissions(make_tree(tmp_path / "m", [folder]), CHAPTERS)[0].student == "555"  # the folder's last


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("../x/00_toy.ipynb", None),  # via a zip only: refused as a name
        ("=cmd|' -C calc'!A0/00_toy.ipynb", "=cmd|' -C calc'!A0"),
        ("Chapter 0_.._attempt_2024-03-01-10-00-00_00_toy.ipynb", ".."),
        ("Chapter 0_.hidden_attempt_2024-03-01-10-00-00_00_toy.ipynb", ".hidden"),
        ("-rf/00_toy.ipynb", "-rf"),
        ("a" * 65 + "/00_toy.ipynb", "a" * 65),
    ],
)
def test_an_unsafe_id_becomes_an_invalid_row_under_a_placeholder(tmp_path, name, raw):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("ok/00_toy.ipynb", NOTEBOOK)
        zip_file.writestr(name, NOTEBOOK)
    root, refused = open_submissions(archive, tmp_path / "work")
    found = [s for s in find_submissions(root, CHAPTERS, refused) if s.file != "ok/00_toy.ipynb"]
    assert len(found) == 1 and found[0].problem
    student = found[0].student
    assert student == (inputs.placeholder(raw) if raw else "")
    assert not inputs.safe_id(student) and "/" not in student and not student.startswith(".")


@pytest.mark.parametrize("student", ["12345", "jdoe", "john.doe", "ana-souza", "joão", "a_b@x"])
def test_ordinary_ids_are_safe(student):
    assert inputs.safe_id(student)


def test_a_formula_in_a_name_is_neutralised_in_grades_csv():
    results = [
        Result("12345", "00_toy", "graded", "-", name="=cmd|' /C calc'!A0", file="@SUM(A1)"),
        Result("7", "00_toy", "invalid", "+1 then =2", name="\tTab", file="\rCR"),
    ]
    text = grades_csv(results)
    cells = [cell for line in text.splitlines()[1:] for cell in line.split(",")]
    assert all(not c.lstrip('"').startswith(("=", "+", "@", "\t", "\r")) for c in cells)
    assert "'=cmd|' /C calc'!A0" in text and "'@SUM(A1)" in text and "'-" in text


# ---------------------------------------------------------------------------------------------
# A class: one hostile file among honest ones


def test_hostile_files_among_honest_ones_leave_the_honest_rows_alone(tmp_path):
    source = testing.read_notebook(TOY / "00_toy.ipynb")
    testing.write_submissions(tmp_path / "class", {"ada": {"00_toy": testing.make_submission(source)}})
    root = tmp_path / "class"
    for student in ("deep", "surrogate", "fifo", "link", "bad name", "=cmd"):
        (root / student).mkdir()
    (root / "deep" / "00_toy.ipynb").write_bytes(b"[" * 100_000)
    (root / "surrogate" / "00_toy.ipynb").write_bytes(b'{"cells": ["\\ud800"], "metadata": {}, "nbformat": 4}')
    os.mkfifo(root / "fifo" / "00_toy.ipynb")
    (root / "link" / "00_toy.ipynb").symlink_to(TOY / "00_toy.ipynb")
    (root / "bad name" / "00_toy.ipynb").write_bytes(NOTEBOOK)
    (root / "=cmd" / "00_toy.ipynb").write_bytes(NOTEBOOK)
    out = tmp_path / "out"
    grades, _, _ = testing.run_grade(root, out, TOY, timeout=60)
    assert grades["ada", "00_toy"]["status"] == "graded" and grades["ada", "00_toy"]["score"] == "5"
    for student in ("deep", "surrogate", "fifo", "link"):
        assert grades[student, "00_toy"]["status"] == "invalid", student
    placeholders = [k for k in grades if k[0].startswith("~refused-")]
    assert len(placeholders) == 2 and all(grades[k]["status"] == "invalid" for k in placeholders)
    written = [p.relative_to(out).parts for p in out.rglob("*") if p.is_file()]
    assert all(len(p) == 1 or p[0] in ("results", "feedback", "logs") for p in written)
    with (out / "grades.csv").open(newline="", encoding="utf-8") as file:
        cells = [cell for row in csv.reader(file) for cell in row]
    assert "'=cmd/00_toy.ipynb" in cells and not any(cell.startswith(("=", "+", "@")) for cell in cells)
