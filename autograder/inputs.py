"""Finding the submissions: a folder or a .zip, in the plain layout or as a learning-management
system exports them, read so that nothing a student controls is trusted.

Supported conventions (one archive may mix them; hidden files and `__MACOSX/` are skipped, and a
single top-level folder that holds no notebook is stepped into):

| convention | file names | student id |
|---|---|---|
| plain | `<student>/<notebook>.ipynb` | the folder name |
| Canvas | `<name>_<userid>_<submissionid>_<notebook>.ipynb`, or `<name>_LATE_<userid>_...` | `userid` |
| Moodle | `<Full Name>_<id>_assignsubmission_file_/<notebook>.ipynb`, or as one flat file name | `id` (participant) |
| Blackboard | `<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<notebook>.ipynb` | `username` |

**Identity comes only from the part of the name the LMS writes**, never from the part the student
chose (`<notebook>`, which follows it): Canvas's prefix is anchored at the start (its `<name>` has
no `_`); Blackboard's is the *first* `_<username>_attempt_<date>` (the assignment's name before it
is the instructor's); a Moodle folder's is the *last* `_<id>_assignsubmission_<plugin>_` of the
folder's name (the file inside is another path component). A flat Moodle name holds the student's
full name before the id and the student's file name after it, so one that holds the marker twice
is refused, as is a flat name that more than one convention reads: which part the LMS wrote cannot
be told, and guessing would let a crafted name claim another id. A student id must be a safe path
component (`SAFE_ID`: a letter, digit or `_` first, then letters, digits and `_ . @ + -`, at most
64 characters); a refused id is that file's `invalid` row under a placeholder id (`~refused-<hash>`,
which no real id can be), so nothing is written outside `results/`, `feedback/` and `logs/`.

**Nothing is read without bounds**: no symbolic link is followed (in a folder it is reported, a
linked folder is not walked; in a zip a link member is refused), a FIFO, a device or a socket is
reported without being opened, and a file over `MAX_FILE_BYTES` is reported without being read.
A zip is extracted member by member (`extract_zip`): at most `MAX_MEMBERS` members, each at most
`MAX_FILE_BYTES` (checked on its header and again while it is decompressed: the header may lie),
`MAX_TOTAL_BYTES` in all; a member whose name is absolute, holds `..`, a backslash, a NUL or another
control character, or is too long, and an encrypted or broken member, is not extracted: it becomes
an `invalid` row saying why (under its student's id when its name gives one), never the batch's end.

The chapter is recognised from the notebook's file name, which must contain the chapter's id
(`01_vae` in `01_vae.ipynb`, `01_VAE-1.ipynb`, `my_01_vae_final.ipynb`; the longest id wins).
Canvas appends `-1`, `-2` to resubmitted files; Moodle and Blackboard keep the student's file name.
When one student has several notebooks for a chapter, Blackboard's latest attempt is graded and
the earlier ones are left out; otherwise the notebook named exactly `<chapter>.ipynb` (or the last
in alphabetical order) is graded and the others are reported as invalid. Since identity comes from
the LMS's part of the name, the notebooks compared are always one student's own. Blackboard's
receipts (`..._attempt_<date>.txt`) and Moodle's online-text folders are ignored; any other file
gets a row (status `invalid`) saying why it was not graded; every row has its own
`<student>/<chapter>` key (`Submission.key`), a safe relative path.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: Caps on what is read of SUBMISSIONS (a chapter's solution notebook is about 1.3 MB).
MAX_FILE_BYTES = 32 << 20
MAX_TOTAL_BYTES = 2 << 30
MAX_MEMBERS = 10_000
#: Caps on a file's name: bytes of one path component, of the whole path, folders deep.
MAX_NAME_BYTES = 200
MAX_PATH_BYTES = 1000
MAX_DEPTH = 8
#: A student id: a safe path component (no `.`, `..`, `/`, `\\`, leading dot, control character).
SAFE_ID = re.compile(r"\w[\w.@+-]{0,63}")
#: What a chapter label (a file's name on a row that is not graded) may not hold.
UNSAFE_LABEL = re.compile(r"[/\\\x00-\x1f\x7f]|^\.|^$")
CHUNK = 1 << 20


class UsageError(Exception):
    """A problem with the command line (exit code 2)."""


@dataclass
class Submission:
    """One file found in SUBMISSIONS; `problem` is why its name or place is wrong, if it is.
    `name` is the student's name when the LMS gives one, `file` the path inside SUBMISSIONS
    (printable: control characters and undecodable bytes replaced), `convention` how the name
    was read, `attempt` orders several attempts of one student."""

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


CANVAS = re.compile(r"^(?P<name>[^_/]+)_(?:(?P<late>LATE)_)?(?P<id>\d+)_(?P<sub>\d+)_(?P<file>.+)$", re.S)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$", re.S)
MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.+)$", re.S)
MOODLE_MARK = re.compile(r"_\d+_assignsubmission_[a-z]+_")
BLACKBOARD = re.compile(
    r"^(?P<assignment>.+?)_(?P<id>[^_]+)_attempt_"
    r"(?P<date>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+)|\.txt)?$",
    re.S,
)


class AmbiguousName(ValueError):
    """A flat file name whose LMS-written part cannot be told from the student's."""


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def printable(text: str) -> str:
    """`text` with control characters and undecodable bytes (lone surrogates) replaced by U+FFFD."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in text)


def safe_id(student: str) -> bool:
    """Whether `student` may be an id: `SAFE_ID`, so a safe path component."""
    return SAFE_ID.fullmatch(student) is not None


def placeholder(text: str, kind: str = "refused") -> str:
    """`~<kind>-<hash>`: a safe path component standing for `text`, which no `SAFE_ID` can be."""
    return f"~{kind}-" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def label(text: str) -> str:
    """`text` as one safe path component for a row's chapter (a placeholder when it is not)."""
    if UNSAFE_LABEL.search(text) or len(text.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return placeholder(text, "file")
    return text


def name_problem(name: str) -> str:
    """Why the relative path `name` (`/`-separated) may not be read, or `""`."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        return f"the name {printable(name)!r} holds a control character or undecodable bytes"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return f"the name {printable(name)!r} is an absolute path"
    if "\\" in name:
        return f"the name {printable(name)!r} holds a backslash"
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return f"the name {printable(name)!r} holds an empty, '.' or '..' part"
    if len(name.encode()) > MAX_PATH_BYTES or any(len(p.encode()) > MAX_NAME_BYTES for p in parts):
        return f"the name {printable(name)[:80]!r}... is too long (over {MAX_NAME_BYTES} bytes a part)"
    if len(parts) > MAX_DEPTH:
        return f"the name {printable(name)!r} is more than {MAX_DEPTH} folders deep"
    return ""


# ---------------------------------------------------------------------------------------------
# A zip, extracted member by member


def _member_problem(info: zipfile.ZipInfo, seen: set[str], total: int) -> str:
    """Why the member `info` is not extracted (`""`: it is), `total` bytes extracted so far."""
    problem = name_problem(info.filename)
    if problem:
        return problem
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return "a symbolic link: not followed"
    if kind not in (0, stat.S_IFREG):
        return "not a regular file"
    if info.flag_bits & 0x1:
        return "an encrypted member: not read"
    if info.file_size > MAX_FILE_BYTES:
        return f"{info.file_size} bytes, over the cap of {MAX_FILE_BYTES} bytes: not read"
    if total + info.file_size > MAX_TOTAL_BYTES:
        return f"the archive decompresses to more than {MAX_TOTAL_BYTES} bytes: not read"
    if info.filename in seen:
        return "a second member of the same name: not read"
    return ""


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, room: int) -> int:
    """Streams the member `info` to `target`/its name, at most `min(MAX_FILE_BYTES, room)` bytes
    whatever its header says; returns the bytes written. Raises `OSError` or `ValueError` (the
    partial file removed) on any failure."""
    limit = min(MAX_FILE_BYTES, room)
    path = target.joinpath(*info.filename.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    written = 0
    try:
        with archive.open(info) as source, os.fdopen(os.open(path, flags, 0o600), "wb") as sink:
            while chunk := source.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise ValueError(f"it decompresses to more than {limit} bytes: not read")
                sink.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return written


def extract_zip(archive_path: Path, target: Path) -> list[tuple[str, str]]:
    """Extracts the zip `archive_path` into the new folder `target`, member by member within
    the caps (see the module docstring); returns `(member name, why)` for each member that was
    not extracted (hidden ones, `__MACOSX/` and folders aside)."""
    target.mkdir(parents=True)
    refused: list[tuple[str, str]] = []
    seen: set[str] = set()
    total = 0
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UsageError(f"SUBMISSIONS {archive_path} cannot be read as a zip: {error}") from None
    with archive:
        members = archive.infolist()
        for index, info in enumerate(members):
            if index == MAX_MEMBERS:
                refused.append(("", f"{len(members) - MAX_MEMBERS} members past the first {MAX_MEMBERS}: not read"))
                break
            if info.is_dir() or any(_hidden(part) for part in info.filename.split("/") if part not in ("", ".", "..")):
                continue
            problem = _member_problem(info, seen, total)
            if not problem:
                try:
                    total += _extract_member(archive, info, target, MAX_TOTAL_BYTES - total)
                except (OSError, ValueError, EOFError, NotImplementedError, RuntimeError, zipfile.BadZipFile) as error:
                    problem = f"not extracted: {printable(str(error))[:200]}"
            seen.add(info.filename)
            if problem:
                refused.append((info.filename, problem))
    return refused


def open_submissions(path: Path, workdir: Path) -> tuple[Path, list[tuple[str, str]]]:
    """`(root, refused)`: the folder that holds the submissions (`path` itself or the extracted
    zip, stepping into a single top-level folder that holds no notebook itself), and the
    members of a zip that were not extracted (see `extract_zip`)."""
    if not path.exists():
        raise UsageError(f"SUBMISSIONS {path} does not exist")
    refused: list[tuple[str, str]] = []
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise UsageError(f"SUBMISSIONS {path} is neither a folder nor a .zip file")
        refused = extract_zip(path, workdir / "submissions")
        path = workdir / "submissions"
    prefix = ""
    while True:
        entries = [entry for entry in path.iterdir() if not _hidden(entry.name)]
        if (
            len(entries) == 1
            and entries[0].is_dir()
            and not entries[0].is_symlink()
            and not any(entries[0].glob("*.ipynb"))
            and not MOODLE_FOLDER.match(entries[0].name)
        ):
            path, prefix = entries[0], prefix + entries[0].name + "/"
        else:
            return path, [(name.removeprefix(prefix), why) for name, why in refused]


def submissions_root(path: Path, workdir: Path) -> Path:
    """The folder that holds the submissions (see `open_submissions`)."""
    return open_submissions(path, workdir)[0]


# ---------------------------------------------------------------------------------------------
# The files, their students and chapters


def walk(root: Path) -> Iterator[tuple[str, Path, str]]:
    """`(relative name, path, problem)` for every entry under `root` that is not a folder,
    in sorted order, without following a symbolic link (see the module docstring); hidden
    entries are skipped, and past `MAX_MEMBERS` entries one last row says how many were not."""
    count, stack = 0, [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name, reverse=True)
        except OSError as error:
            yield prefix.rstrip("/") or ".", folder, f"the folder cannot be read ({error.strerror})"
            continue
        for entry in entries:
            if _hidden(entry.name):
                continue
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False) and not name_problem(relative):
                stack.append((Path(entry.path), relative + "/"))
                continue
            count += 1
            if count > MAX_MEMBERS:
                yield "", root, f"more than {MAX_MEMBERS} files in SUBMISSIONS: the others were not read"
                return
            yield relative, Path(entry.path), _entry_problem(entry, relative)


def _entry_problem(entry: os.DirEntry, relative: str) -> str:
    """Why the folder entry `entry` is not read (`""`: it is), from `lstat` alone."""
    problem = name_problem(relative)
    if problem:
        return problem
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link: not followed"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a FIFO, a device or a socket): not read"
    if info.st_size > MAX_FILE_BYTES:
        return f"{info.st_size} bytes, over the cap of {MAX_FILE_BYTES} bytes: not read"
    return ""


def chapter_of(filename: str, chapters: list[str]) -> str | None:
    """The chapter whose id the file name contains (case-insensitive; the longest wins)."""
    stem = PurePosixPath(filename).stem.lower()
    found = [c for c in chapters if c.lower() in stem]
    return max(found, key=len) if found else None


def _flat(name: str) -> tuple[str, str, str, str, str] | None:
    """`parse` of a file name outside any folder; raises `AmbiguousName`."""
    readings = []
    for convention, pattern in (("moodle", MOODLE_FILE), ("blackboard", BLACKBOARD), ("canvas", CANVAS)):
        match = pattern.match(name)
        if match:
            readings.append((convention, match))
    if not readings:
        return "plain", "", "", name, ""
    if len(readings) > 1:
        kinds = " and as ".join(c for c, _ in readings)
        raise AmbiguousName(f"the name reads as a {kinds} export: which part is the LMS's is not clear")
    convention, match = readings[0]
    if convention == "moodle" and len(MOODLE_MARK.findall(name)) > 1:
        raise AmbiguousName("the name holds Moodle's `_<id>_assignsubmission_` more than once")
    if convention == "moodle" and match["plugin"] != "file":
        return None
    if convention == "blackboard" and not match["file"]:
        return None  # the attempt's receipt
    name_of = "" if convention == "blackboard" else match["name"]
    attempt = match["date"] if convention == "blackboard" else ""
    return convention, match["id"], name_of, match["file"], attempt


def parse(relative: PurePosixPath) -> tuple[str, str, str, str, str] | None:
    """`(convention, student, name, file name, attempt)` for a path inside SUBMISSIONS;
    `student` is empty when the path follows no convention; None for a file to ignore. Raises
    `AmbiguousName` for a flat name that cannot be read safely (see the module docstring)."""
    parts = relative.parts
    folder = MOODLE_FOLDER.match(parts[0]) if len(parts) > 1 else None
    if folder:
        if folder["plugin"] != "file":
            return None  # online text, comments: not a notebook
        return "moodle", folder["id"], folder["name"], parts[-1], ""
    if len(parts) == 1:
        return _flat(parts[0])
    return "plain", parts[0], "", parts[-1], ""


def _row(relative: str, path: Path, problem: str, chapters: list[str]) -> Submission | None:
    """The `Submission` of one entry (None for a file to ignore), its id checked."""
    shown = printable(relative)
    try:
        parsed = parse(PurePosixPath(shown)) if shown and not name_problem(relative) else None
        if parsed is None and not problem:
            return None
        convention, student, name, filename, attempt = parsed or ("plain", "", "", PurePosixPath(shown).name, "")
    except AmbiguousName as error:
        convention, student, name, filename, attempt = "plain", "", "", PurePosixPath(shown).name, ""
        problem = problem or f"cannot tell the student from the file name: {error}"
    if student and not safe_id(student):
        problem = problem or f"refused student id {printable(student)[:80]!r}: not a safe name for a folder"
        student = placeholder(student)
    chapter = chapter_of(filename, chapters) if filename.endswith(".ipynb") else None
    if problem:
        pass  # the first reason found is the one the row gives
    elif not student:
        problem = (
            f"misplaced file {shown}: expected <student>/<chapter>.ipynb or an LMS export (Canvas, Moodle, Blackboard)"
        )
    elif convention == "plain" and len(PurePosixPath(relative).parts) != 2:
        problem = f"misplaced file {shown}: expected <student>/<chapter>.ipynb"
    elif chapter is None:
        expected = ", ".join(f"{c}.ipynb" for c in chapters)
        problem = f"unknown chapter file {filename!r}: expected one of {expected}"
    if chapter is None:
        chapter = label(PurePosixPath(filename).stem if filename.endswith(".ipynb") else filename)
    return Submission(student, chapter, path, problem, name, shown, convention, attempt)


def find_submissions(root: Path, chapters: list[str], refused: list[tuple[str, str]] = ()) -> list[Submission]:
    """Every file under `root` (hidden ones and LMS receipts aside), as a `Submission`, and a
    row (status `invalid`) for each zip member of `refused` (`(name, why)`, see `extract_zip`)."""
    entries = sorted(walk(root), key=lambda entry: PurePosixPath(entry[0]).parts)
    entries += [(name, root / "~refused", why) for name, why in refused]
    found = [row for entry in entries if (row := _row(*entry, chapters)) is not None]
    return _unique(_one_per_chapter(found))


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
                other.chapter = label(PurePosixPath(other.file).name)
                other.problem = (
                    f"another notebook of {student} for {chapter} is graded "
                    f"({PurePosixPath(kept.file).name}): only one per chapter"
                )
    return [s for s in found if id(s) not in dropped]


def _unique(found: list[Submission]) -> list[Submission]:
    """Gives each row its own key: a row that is not graded never takes a graded row's key
    (graded rows are unique per student and chapter already), nor another's."""
    seen = {s.key for s in found if not s.problem}
    for submission in found:
        if not submission.problem:
            continue
        base, number = submission.chapter, 1
        if submission.key in seen:
            base = submission.chapter = label(PurePosixPath(submission.file).name or submission.chapter)
        while submission.key in seen:
            number += 1
            submission.chapter = label(f"{base} ({number})")
        seen.add(submission.key)
    return found
