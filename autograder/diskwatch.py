"""A watch on what a sandbox writes to the grader's disk.

A kernel's own files live in memory-backed tmpfs of a fixed size (WORK, /tmp, /dev/shm, HOME,
`autograder.bwrap`), but it must be able to write one folder of the grader's disk: RUN, where it
creates its ZeroMQ sockets (and, with `--isolation rlimits`, its working folder too). `DiskWatch`
looks at RUN every `interval` seconds while the kernel runs, without following links and counting
the blocks a file really holds; once RUN holds more than `max_bytes` or `max_files`, it calls
`on_exceed` with the reason (the kernel manager then kills the whole sandbox and the log and the
notes say why). What can be written between two looks is bounded by the disk's speed and by
`RLIMIT_FSIZE` per file.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def usage(folder: Path, max_files: int) -> tuple[int, int]:
    """`(bytes, entries)` under `folder`: the blocks its files hold (a sparse file counts what it
    really uses), and its files, folders and other entries; links are counted, never followed.
    Stops counting after `max_files + 1` entries."""
    total, count = 0, 0
    pending = [str(folder)]
    while pending and count <= max_files:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:  # removed, or not readable: nothing of it is on the disk for long
            continue
        for entry in entries:
            count += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += info.st_blocks * 512
            if stat.S_ISDIR(info.st_mode):
                pending.append(entry.path)
    return total, count


@dataclass
class DiskWatch:
    """Watches `folder` in a thread of its own (`start`, `stop`); see the module docstring."""

    folder: Path
    max_bytes: int
    max_files: int
    on_exceed: Callable[[str], None]
    interval: float = 0.25
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def check(self) -> str | None:
        """Why the folder is over its limits, or None."""
        size, files = usage(self.folder, self.max_files)
        if files > self.max_files:
            return f"more than {self.max_files} files and folders in the kernel's folder on the grader's disk"
        if size > self.max_bytes:
            return f"{size >> 20} MiB in the kernel's folder on the grader's disk (limit: {self.max_bytes >> 20} MiB)"
        return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            reason = self.check()
            if reason is not None:
                self.on_exceed(reason)
                return

    def start(self) -> DiskWatch:
        self._thread = threading.Thread(target=self._run, name="autograder-diskwatch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
