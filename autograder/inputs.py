"""Finding the submissions: a folder or a .zip, in the plain layout or as a learning-management
system exports them.

Supported conventions (one archive may mix them; hidden files and `__MACOSX/` are skipped, and a
single top-level folder that holds no notebook is stepped into):

| convention | file names | student id |
|---|---|---|
| plain | `<student>/<notebook>.ipynb` | the folder name |
| Canvas | `<name>_<userid>_<submissionid>_<notebook>.ipynb`, or `<name>_LATE_<userid>_...` | `userid` |
| Moodle | `<Full Name>_<id>_assignsubmission_file_/<notebook>.ipynb`, or as one flat file name | `id` (participant) |
| Blackboard | `<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<notebook>.ipynb` | `username` |

The chapter is recognised from the notebook's file name, which must contain the chapter's id
(`01_vae` in `01_vae.ipynb`, `01_VAE-1.ipynb`, `my_01_vae_final.ipynb`; the longest id wins).
Canvas appends `-1`, `-2` to resubmitted files; Moodle and Blackboard keep the student's file name.
When one student has several notebooks for a chapter, Blackboard's latest attempt is graded and
the earlier ones are left out; otherwise the notebook named exactly `<chapter>.ipynb` (or the last
in alphabetical order) is graded and the others are reported as invalid. Blackboard's receipts
(`..._attempt_<date>.txt`) and Moodle's online-text folders are ignored; any other file gets a row
(status `invalid`) saying why it was not graded.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class UsageError(Exception):
    """A problem with the command line (exit code 2)."""


@dataclass
class Submission:
    """One file found in SUBMISSIONS; `problem` is why its name or place is wrong, if it is.
    `name` is the student's name when the LMS gives one, `file` the path inside SUBMISSIONS,
    `convention` how the name was read, `attempt` orders several attempts of one student."""

    student: str
    chapter: str
    path: Path
    problem: str = ""
    name: str = ""
    file: str = ""
    convention: str = "plain"
    attempt: str = ""

    @property
    def key(self) -> str:
        """`<student>/<chapter>`: where its results go (`_` for a file outside any folder)."""
        return f"{self.student or '_'}/{self.chapter}"


CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?:(?P<late>LATE)_)?(?P<id>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
MOODLE_FILE = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.+)$")
BLACKBOARD = re.compile(
    r"^(?P<assignment>.+)_(?P<id>[^_]+)_attempt_"
    r"(?P<date>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+)|\.txt)?$"
)


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def submissions_root(path: Path, workdir: Path) -> Path:
    """The folder that holds the submissions: `path` itself or the extracted zip, stepping
    into a single top-level folder that holds no notebook itself."""
    if not path.exists():
        raise UsageError(f"SUBMISSIONS {path} does not exist")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise UsageError(f"SUBMISSIONS {path} is neither a folder nor a .zip file")
        with zipfile.ZipFile(path) as archive:
            archive.extractall(workdir / "submissions")
        path = workdir / "submissions"
    while True:
        entries = [entry for entry in path.iterdir() if not _hidden(entry.name)]
        if (
            len(entries) == 1
            and entries[0].is_dir()
            and not any(entries[0].glob("*.ipynb"))
            and not MOODLE_FOLDER.match(entries[0].name)
        ):
            path = entries[0]
        else:
            return path


def chapter_of(filename: str, chapters: list[str]) -> str | None:
    """The chapter whose id the file name contains (case-insensitive; the longest wins)."""
    stem = PurePosixPath(filename).stem.lower()
    found = [c for c in chapters if c.lower() in stem]
    return max(found, key=len) if found else None


def parse(relative: PurePosixPath) -> tuple[str, str, str, str, str] | None:
    """`(convention, student, name, file name, attempt)` for a path inside SUBMISSIONS;
    `student` is empty when the path follows no convention; None for a file to ignore."""
    parts = relative.parts
    folder = MOODLE_FOLDER.match(parts[0]) if len(parts) > 1 else None
    if folder:
        if folder["plugin"] != "file":
            return None  # online text, comments: not a notebook
        return "moodle", folder["id"], folder["name"], parts[-1], ""
    if len(parts) == 1:
        for convention, pattern in (("moodle", MOODLE_FILE), ("blackboard", BLACKBOARD), ("canvas", CANVAS)):
            match = pattern.match(parts[0])
            if not match:
                continue
            if convention == "moodle" and match["plugin"] != "file":
                return None
            if convention == "blackboard" and not match["file"]:
                return None  # the attempt's receipt
            name = "" if convention == "blackboard" else match["name"]
            attempt = match["date"] if convention == "blackboard" else ""
            return convention, match["id"], name, match["file"], attempt
        return "plain", "", "", parts[0], ""
    return "plain", parts[0], "", parts[-1], ""


def find_submissions(root: Path, chapters: list[str]) -> list[Submission]:
    """Every file under `root` (hidden ones and LMS receipts aside), as a `Submission`."""
    expected = ", ".join(f"{name}.ipynb" for name in chapters)
    found: list[Submission] = []
    for path in sorted(root.rglob("*")):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        if not path.is_file() or any(_hidden(part) for part in relative.parts):
            continue
        parsed = parse(relative)
        if parsed is None:
            continue
        convention, student, name, filename, attempt = parsed
        chapter = chapter_of(filename, chapters) if filename.endswith(".ipynb") else None
        problem = ""
        if not student:
            problem = (
                f"misplaced file {relative}: expected <student>/<chapter>.ipynb or an "
                "LMS export (Canvas, Moodle, Blackboard)"
            )
        elif convention == "plain" and len(relative.parts) != 2:
            problem = f"misplaced file {relative}: expected <student>/<chapter>.ipynb"
        elif chapter is None:
            problem = f"unknown chapter file {filename!r}: expected one of {expected}"
        found.append(
            Submission(
                student,
                chapter or (PurePosixPath(filename).stem if filename.endswith(".ipynb") else filename),
                path,
                problem,
                name,
                str(relative),
                convention,
                attempt,
            )
        )
    return _one_per_chapter(found)


def _one_per_chapter(found: list[Submission]) -> list[Submission]:
    """Keeps one notebook per student and chapter (see the module docstring)."""
    groups: dict[tuple[str, str], list[Submission]] = {}
    for submission in found:
        if not submission.problem:
            groups.setdefault((submission.student, submission.chapter), []).append(submission)
    dropped = set()
    for (student, chapter), group in groups.items():
        if len(group) < 2:
            continue
        attempts = [s for s in group if s.attempt]
        if len(attempts) == len(group):  # Blackboard: the latest attempt counts
            dropped.update(id(s) for s in sorted(group, key=lambda s: s.attempt)[:-1])
            continue
        exact = [s for s in group if PurePosixPath(s.file).name == f"{chapter}.ipynb"]
        kept = exact[-1] if exact else group[-1]
        for other in group:
            if other is not kept:
                other.chapter = PurePosixPath(other.file).name
                other.problem = (
                    f"another notebook of {student} for {chapter} is graded "
                    f"({PurePosixPath(kept.file).name}): only one per chapter"
                )
    kept = [s for s in found if id(s) not in dropped]
    seen = {(s.student, s.chapter) for s in kept if not s.problem}
    for submission in kept:  # a misplaced file must not take a graded file's row
        if submission.problem and (submission.student, submission.chapter) in seen:
            submission.chapter = submission.file
        seen.add((submission.student, submission.chapter))
    return kept
