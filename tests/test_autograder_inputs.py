"""Submissions as learning-management systems export them (see `autograder.inputs`)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from autograder import testing
from autograder.inputs import find_submissions, submissions_root

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "fixtures" / "toy" / "solutions"
CHAPTERS = ["00_toy", "01_vae"]

FILES = {
    # Canvas: <name>_<userid>_<submissionid>_<file>, LATE before the user id; -1 on resubmission
    "smithjohn_12345_67890_00_toy.ipynb": ("12345", "00_toy", "smithjohn", "canvas"),
    "doejane_LATE_222_333_00_toy-1.ipynb": ("222", "00_toy", "doejane", "canvas"),
    # Moodle: a folder per student and plugin, or the same as one flat file name
    "Ana Souza_4242_assignsubmission_file_/00_toy.ipynb": ("4242", "00_toy", "Ana Souza", "moodle"),
    "Ana Souza_4242_assignsubmission_onlinetext_/onlinetext.html": None,
    "Bruno Lima_77_assignsubmission_file_01_vae.ipynb": ("77", "01_vae", "Bruno Lima", "moodle"),
    # Blackboard: the latest attempt is graded; receipts are ignored
    "Chapter 0_jdoe_attempt_2024-03-01-10-00-00_00_toy.ipynb": ("jdoe", "00_toy", "", "blackboard"),
    "Chapter 0_jdoe_attempt_2024-02-01-09-00-00_00_toy.ipynb": None,
    "Chapter 0_jdoe_attempt_2024-03-01-10-00-00.txt": None,
    # the plain layout; the chapter is found in the file name
    "zoe/00_toy.ipynb": ("zoe", "00_toy", "", "plain"),
    "zoe/my_01_VAE_final.ipynb": ("zoe", "01_vae", "", "plain"),
}


def make_tree(root: Path, names) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}")
    return root


def test_each_convention_maps_to_a_student_and_a_chapter(tmp_path):
    found = find_submissions(make_tree(tmp_path, FILES), CHAPTERS)
    got = {s.file: (s.student, s.chapter, s.name, s.convention) for s in found}
    assert {f: v for f, v in FILES.items() if v is not None} == got
    assert all(not s.problem for s in found)


def test_files_that_follow_no_convention_are_reported(tmp_path):
    found = find_submissions(
        make_tree(
            tmp_path,
            [
                "stray.ipynb",
                "yan/00_toy.ipynb",
                "yan/00_toy (1).ipynb",
                "yan/notes.txt",
                "yan/deep/00_toy.ipynb",
                "ann/homework.ipynb",
            ],
        ),
        CHAPTERS,
    )
    problems = {s.file: s.problem for s in found}
    assert problems["yan/00_toy.ipynb"] == ""  # the exact name wins over "00_toy (1).ipynb"
    assert "only one per chapter" in problems["yan/00_toy (1).ipynb"]
    assert "misplaced file stray.ipynb" in problems["stray.ipynb"]
    assert "misplaced file yan/deep/00_toy.ipynb" in problems["yan/deep/00_toy.ipynb"]
    assert "unknown chapter file 'notes.txt'" in problems["yan/notes.txt"]
    assert "unknown chapter file 'homework.ipynb'" in problems["ann/homework.ipynb"]
    keys = [(s.student, s.chapter) for s in found]
    assert len(keys) == len(set(keys))  # one row each in grades.csv


def test_an_lms_zip_is_graded_under_the_student_ids(tmp_path):
    source = testing.read_notebook(TOY / "00_toy.ipynb")
    answer = testing.make_submission(source)
    wrong = testing.make_submission(source, {"square": "def square(x):\n    return abs(x) * x"})
    testing.write_submissions(tmp_path / "nb", {"a": {"ok": answer}, "b": {"wrong": wrong}})
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.write(tmp_path / "nb" / "a" / "ok.ipynb", "smithjohn_12345_67890_00_toy.ipynb")
        zip_file.write(tmp_path / "nb" / "b" / "wrong.ipynb", "Ana Souza_4242_assignsubmission_file_/00_toy.ipynb")
        zip_file.write(tmp_path / "nb" / "a" / "ok.ipynb", "Chapter 0_jdoe_attempt_2024-03-01-10-00-00_00_toy.ipynb")
        zip_file.writestr("Chapter 0_jdoe_attempt_2024-03-01-10-00-00.txt", "receipt")
    assert submissions_root(archive, tmp_path / "work").name == "submissions"
    grades, _, _ = testing.run_grade(archive, tmp_path / "out", TOY, timeout=60, options=("--jobs", "2"))
    assert sorted(grades) == [("12345", "00_toy"), ("4242", "00_toy"), ("jdoe", "00_toy")]
    assert [grades[k]["score"] for k in sorted(grades)] == ["5", "2", "5"]
    assert grades["4242", "00_toy"]["name"] == "Ana Souza"
    assert grades["12345", "00_toy"]["file"] == "smithjohn_12345_67890_00_toy.ipynb"
    assert (tmp_path / "out" / "feedback" / "4242" / "00_toy.html").exists()


HONEST_NAMES = {  # file names a student chose with underscores and digits: the id is the LMS's
    "smithjohn_12345_67890_my_01_vae_v2_3.ipynb": "12345",
    "Chapter_0_jdoe_attempt_2024-03-01-10-00-00_final_00_toy_2.ipynb": "jdoe",
    "Ana Souza_4242_assignsubmission_file_00_toy_v2_3.ipynb": "4242",
    "Ana_Maria_7_assignsubmission_file_/sub_1/00_toy.ipynb": "7",
}


def test_the_id_comes_from_the_lms_part_of_the_name(tmp_path):
    found = find_submissions(make_tree(tmp_path, HONEST_NAMES), CHAPTERS)
    assert {s.file: s.student for s in found} == HONEST_NAMES
    assert all(not s.problem for s in found)


def test_every_row_has_its_own_safe_key(tmp_path):
    names = ["zoe/00_toy.ipynb", "zoe/00_toy-1.ipynb", "zoe/x/00_toy.ipynb", "zoe/00_toy (1).ipynb", "00_toy.ipynb"]
    root = make_tree(tmp_path / "class", names)
    (root / "zoe" / "01_vae.ipynb").symlink_to(root / "zoe" / "00_toy.ipynb")
    (root / "stray_01_vae.ipynb").symlink_to("/etc/passwd")
    found = find_submissions(root, CHAPTERS)
    keys = [s.key for s in found]
    assert len(keys) == len(set(keys)) == len(names) + 2
    assert [s.file for s in found if not s.problem] == ["zoe/00_toy.ipynb"]
    for key in keys:
        student, chapter = key.split("/")
        assert student not in ("", ".", "..") and chapter not in ("", ".", "..") and not chapter.startswith(".")
