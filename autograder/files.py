"""Where the repository is, content hashes, and files written so that no reader sees half of one.

Every module of the autograder takes the repository's root, the hash of a set of files and the
atomic write from here (one definition of each).
"""

from __future__ import annotations

import hashlib
import os
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
