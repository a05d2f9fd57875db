"""Where the repository is, content hashes, and files written so that no reader sees half of one.

Every module of the autograder takes the repository's root, the hash of a set of files, the
atomic write and the bounded read of a file a student controls (`read_regular`) from here (one
definition of each).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
from collections.abc import Iterable
from pathlib import Path

#: The repository's root (the instructor's source: solutions/, vaelab/, autograder/).
REPO = Path(__file__).resolve().parent.parent


def digest(*parts: bytes) -> str:
    """The SHA-256 of the SHA-256 of each part: a hash of a sequence of byte strings in which no
    two sequences collide by moving bytes from one part to the next."""
    total = hashlib.sha256()
    for part in parts:
        total.update(hashlib.sha256(part).digest())
    return total.hexdigest()


def files_digest(root: Path, files: Iterable[Path], *salt: bytes) -> str:
    """`digest` of `salt`, then of each file as its path relative to `root`, a NUL byte and its
    bytes, in the order given."""
    return digest(*salt, *(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() for p in files))


def write_atomic(path: Path, text: str | bytes) -> None:
    """Writes `path` through a temporary file in its folder and a rename: a reader (or a run
    killed in the middle) sees the old file or the new one, never half of one. The temporary
    file is named `.<name>.<pid>.tmp` (`grade` removes the ones a killed run left)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = text.encode("utf-8") if isinstance(text, str) else text
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


class UnsafeFile(Exception):
    """A file the grader will not read: a link, not a regular file, or over its size cap."""


def read_regular(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; raises `UnsafeFile`.

    The file is opened with `O_NOFOLLOW` (a symbolic link is refused, not followed) and
    `O_NONBLOCK` (opening a FIFO whose other end nobody holds returns at once instead of waiting
    for a writer), then `fstat` on the open descriptor says what it is: a FIFO, a device or a
    socket is refused before a byte is read. The size is checked on `fstat` and again while
    reading (a file that grows while it is read stops at `limit + 1` bytes)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeFile("a symbolic link: not followed") from None
        raise UnsafeFile(f"cannot be opened ({error.strerror})") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"not a regular file ({_kind(info.st_mode)}): not read")
        if info.st_size > limit:
            raise UnsafeFile(f"{info.st_size} bytes, over the cap of {limit} bytes: not read")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(descriptor)
    if size > limit:
        raise UnsafeFile(f"over the cap of {limit} bytes (it grew while it was read): not read")
    return b"".join(chunks)


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, word in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return word
    return f"mode {mode:o}"


def empty_folder(folder: Path, keep: tuple[str, ...] = ()) -> None:
    """Removes everything in `folder` but the names `keep`, however deep and whatever its modes,
    without following a link or leaving the file system (`chmod -R u+rwX`, then `rm -rf
    --one-file-system`: Python's `shutil.rmtree` recurses, and a folder a thousand levels deep
    stops it). Raises `OSError` when something is left."""
    paths = [str(folder / name) for name in os.listdir(folder) if name not in keep]
    if paths:
        subprocess.run(["chmod", "-R", "u+rwX", "--", *paths], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", "--", *paths], capture_output=True, check=False)
    left = sorted(name for name in os.listdir(folder) if name not in keep)
    if left:
        raise OSError(f"could not empty {folder}: {', '.join(left[:3])} left")
