"""The bubblewrap (`bwrap`) command line that runs a kernel in a sandbox of its own.

New user, PID, network, IPC and UTS namespaces (`--unshare-all`), no capabilities, a session of
its own, killed with the grader (`--die-with-parent`), and a file system made of

    /usr, /etc/{ld.so.cache,passwd,group,...}   read-only, what every process needs
    sys.base_prefix, sys.prefix                  read-only, Python and the course's site-packages
    LIB                                          read-only, a copy of the course library
    FILES                                        read-only, the assignment's files (the launcher
                                                 copies them into WORK before the kernel starts)
    RUN                                          writable: the kernel's connection file and its
                                                 Unix sockets (on the grader's disk: watched by
                                                 `autograder.diskwatch`)
    WORK (in RUN), /tmp, HOME                    private tmpfs of `size` bytes each: memory-backed,
                                                 capped, gone when the sandbox ends

and nothing else. PID 1 of the sandbox is bubblewrap's own init: when the kernel ends, the
kernel of the machine kills every process left in the PID namespace.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: HOME inside the sandbox (an empty tmpfs).
SANDBOX_HOME = Path("/home/student")

#: Read-only system files a Python process may need inside the sandbox (those that exist).
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "passwd",
    "group",
    "nsswitch.conf",
    "alternatives",
    "fonts",
    "mime.types",
)


@functools.cache
def bwrap_works() -> bool:
    """Whether `bwrap` is installed and can run this Python in the sandbox the kernels use
    (namespaces may be forbidden, in some containers)."""
    if shutil.which("bwrap") is None:
        return False
    with tempfile.TemporaryDirectory(prefix="autograder-bwrap-") as tmp:
        run_dir, lib = Path(tmp) / "run", Path(tmp) / "lib"
        (run_dir / "work").mkdir(parents=True)
        lib.mkdir()
        command = bwrap_prefix(run_dir / "work", run_dir, lib, lib, 1 << 20) + [
            sys.executable,
            "-c",
            "import json, os; os.listdir('.')",
        ]
        try:
            run = subprocess.run(command, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
    return run.returncode == 0


@functools.cache
def bwrap_has_size() -> bool:
    """Whether this bubblewrap can cap the size of a tmpfs (`--size`, bubblewrap 0.8)."""
    try:
        run = subprocess.run(["bwrap", "--help"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return "--size" in run.stdout + run.stderr


def _system() -> list[str]:
    """The read-only system folders and files."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    if Path("/sys/devices/system/cpu").exists():
        args += ["--ro-bind", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    for prefix in sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), sys.prefix}):
        if not prefix.startswith("/usr/"):
            args += ["--ro-bind", prefix, prefix]
    return args


def bwrap_prefix(work: Path, run: Path, lib: Path, files: Path, size: int) -> list[str]:
    """The bubblewrap command line that runs a kernel in `work` (see the module docstring);
    `size`: the bytes of each tmpfs (/tmp, HOME, WORK; ignored by a bubblewrap without `--size`)."""
    tmpfs = ["--size", str(size)] if size and bwrap_has_size() else []
    return [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "sandbox",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        *tmpfs,
        "--tmpfs",
        "/dev/shm",
        *tmpfs,
        "--tmpfs",
        "/tmp",
        *_system(),
        "--ro-bind",
        str(lib),
        str(lib),
        *tmpfs,
        "--tmpfs",
        str(SANDBOX_HOME),
        "--bind",
        str(run),
        str(run),
        "--ro-bind",
        str(files),
        str(files),
        *tmpfs,
        "--tmpfs",
        str(work),
        "--chdir",
        str(work),
    ]
