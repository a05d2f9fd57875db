"""Where student code runs: the kernel's sandbox and its limits.

Every kernel that runs a submission (`grade`) is started by `SandboxedKernelManager` through
`LAUNCHER`, a few lines of Python that set the limits of the process (`setrlimit`) and then
`exec` the course's IPython kernel (whatever kernel the notebook's metadata names):

- `RLIMIT_AS` (address space, `--memory-limit`): an allocation beyond it fails with a
  `MemoryError` (or torch's "can't allocate memory") instead of taking the machine down;
- `RLIMIT_CPU` (CPU seconds, the notebook's time limit plus a margin): a kernel that spins past
  it is killed with `SIGXCPU`;
- `RLIMIT_FSIZE` (the largest file it may write) and `RLIMIT_CORE` = 0 (no core dumps).

When bubblewrap (`bwrap`) works on the machine, the kernel also runs in a sandbox of its own
(`isolation` = `"bwrap"`): new user, PID, network, IPC and UTS namespaces, no capabilities, no
network at all (a private loopback only), and a file system made of

    /usr, /etc/{ld.so.cache,passwd,group,...}   read-only, what every process needs
    sys.base_prefix, sys.prefix                  read-only, Python and the course's site-packages
    LIB                                          read-only, a copy of the course library:
                                                 `vaelab` and `autograder/hidden` (`LIBRARY`)
    RUN (and RUN/work, the kernel's working      writable: the kernel's connection file and
    folder)                                      sockets, and a folder with the assignment's
                                                 files, without the notebook being graded
    /tmp, HOME                                   private, empty tmpfs (512 MiB each)

and nothing else: not the repository (so not `solutions/`), not the gradebook nor nbgrader's
copy of the notebook with its hidden tests (they live in the course folder, which is not
mounted), not the class's submissions, not DIR, not the other kernels' folders. The kernel
talks to the grader over Unix sockets in RUN (ZeroMQ `ipc` transport), since it has no network;
interrupts go through the control channel (`interrupt_mode = "message"`), since signals do not
cross the sandbox. The environment is rebuilt from scratch (`kernel_env`): no variable of the
grader's leaks in (tokens, paths).

When bubblewrap is missing or cannot create namespaces (some containers), the kernel runs with
the same limits, a private HOME and temporary folder and the same scrubbed environment
(`isolation` = `"rlimits"`), but it can read what the grader's user can read and reach the
network: the log and the feedback say so. `python -m autograder grade --isolation` chooses.

One submission's sandbox is a `Sandbox`: its folders (LIB, RUN), its limits, the settings of its
kernel manager (`kernel_settings`), what the kernel printed, and whether the library changed
while it ran (`library_digest`, the one hash of the library: the results' hash uses it too).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, Integer, Unicode

from .files import REPO, files_digest

#: The isolation levels, strongest first; `auto` picks the strongest that works here.
ISOLATIONS = ("bwrap", "rlimits")

#: What `isolation` means, for the log and the feedback.
DESCRIPTIONS = {
    "bwrap": "bubblewrap sandbox: no network, only the course library and the submission's own "
    "folder visible, memory and CPU limits",
    "rlimits": "process limits only (memory, CPU time, private HOME and temporary folder, clean "
    "environment); bubblewrap is not available, so the file system and the network "
    "are NOT isolated",
}

#: HOME inside the sandbox (an empty tmpfs).
SANDBOX_HOME = Path("/home/student")

#: The size of the sandbox's /tmp and HOME (memory-backed), when bubblewrap can cap it.
TMPFS_SIZE = 512 << 20

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

#: The course library: the packages that the notebooks import from the repository (copied into
#: LIB), folders relative to the repository. The hidden tests run this code: a result's hash
#: covers it (`library_digest`).
LIBRARY = ("vaelab", "autograder/hidden")
#: LIB's `autograder/__init__.py`: the package holds only the hidden tests there.
PACKAGE_STUB = '"""The course library\'s autograder package: the hidden tests only."""\n'
#: Files of the library that are not part of it (caches).
NOT_LIBRARY = ("__pycache__", ".pyc")

#: CPU seconds a kernel gets beyond the notebook's time limit (start-up, imports): `RLIMIT_CPU`
#: is a backstop for the wall clock, which `autograder.execute` enforces.
CPU_MARGIN = 60
#: The soft CPU limit sends SIGXCPU; the hard one, this many seconds later, SIGKILL.
CPU_HARD_MARGIN = 5
#: The longest kernel output kept for the log, in characters (its last lines).
KERNEL_OUTPUT_TAIL = 4000
#: The longest temporary folder a sandbox is made in: the kernel's Unix sockets live there, a
#: socket path holds at most 107 bytes, and ours add about 40.
MAX_TMP_PATH = 64
#: ipykernel's start-up message (it prints it when no parent process watches it): not news.
KERNEL_NOISE = re.compile(
    r"NOTE: When using the `ipython kernel`|To exit, you will have to|"
    r"\"quit\" from a client|To read more about this|"
    r"To connect another client|--existing "
)

#: Sets the limits, then becomes the kernel: `python -c LAUNCHER MEMORY CPU CPU_HARD_MARGIN FSIZE SANDBOXED
#: KERNEL_ARGV...`. In the sandbox the grader's PID means nothing (JPY_PARENT_PID would make the
#: kernel exit at once): bubblewrap's --die-with-parent ties the kernel to the grader instead.
#: Outside, PR_SET_PDEATHSIG kills the kernel when the grader dies.
LAUNCHER = """\
import os, resource, sys
memory, cpu, hard_margin, fsize, sandboxed = (int(a) for a in sys.argv[1:6])
if memory > 0:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
if cpu > 0:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + hard_margin))
if fsize > 0:
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if sandboxed:
    os.environ.pop("JPY_PARENT_PID", None)
else:
    try:
        import ctypes, signal
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:
        pass
argv = sys.argv[6:]
os.execv(argv[0], argv)
"""


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
        command = bwrap_prefix(run_dir / "work", run_dir, lib) + [
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


def resolve(isolation: str = "auto") -> str:
    """The isolation to use: `bwrap` or `rlimits` as asked (`bwrap` raises `RuntimeError`
    when bubblewrap does not work here), or with `auto` the strongest that works."""
    if isolation == "auto":
        return "bwrap" if bwrap_works() else "rlimits"
    if isolation == "bwrap" and not bwrap_works():
        raise RuntimeError(
            "bubblewrap (bwrap) is missing or cannot create namespaces here; "
            "install it (apt-get install bubblewrap) or use --isolation rlimits"
        )
    if isolation not in ISOLATIONS:
        raise ValueError(f"unknown isolation {isolation!r}: expected auto, bwrap or rlimits")
    return isolation


def library_files(root: Path = REPO) -> list[Path]:
    """The files of the course library (`LIBRARY`) under `root` (the repository, or a sandbox's
    LIB), caches left out, sorted."""
    return sorted(
        p
        for folder in LIBRARY
        for p in (root / folder).rglob("*")
        if p.is_file() and not any(part.endswith(NOT_LIBRARY) for part in p.parts)
    )


def library_digest(root: Path = REPO, *salt: bytes) -> str:
    """The hash of the course library under `root` (and of `salt`): what the results' hashes
    cover, and how a sandbox sees whether the library changed while a kernel ran."""
    return files_digest(root, library_files(root), *salt)


def copy_library(dest: Path) -> Path:
    """Copies the course library to `dest`, with `PACKAGE_STUB` as its `autograder/__init__.py`,
    and makes it read-only; returns `dest`."""
    for path in library_files(REPO):
        target = dest / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (dest / "autograder" / "__init__.py").write_text(PACKAGE_STUB)
    for path in sorted(dest.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    dest.chmod(0o555)
    return dest


def make_writable(root: Path) -> None:
    """Undoes `copy_library`'s read-only modes so that the folder can be deleted."""
    if root.exists():
        for path in [root, *root.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)


def cpu_limit(notebook_timeout: int) -> int:
    """The CPU seconds a kernel may use (0: no limit) under a notebook time limit."""
    return notebook_timeout + CPU_MARGIN if notebook_timeout else 0


def gib(size: int) -> str:
    """A memory limit in words."""
    return f"{size / (1 << 30):g} GiB" if size else "no limit"


def short_tmp() -> str:
    """The temporary folder, or /tmp when its path is too long for the kernel's sockets."""
    folder = tempfile.gettempdir()
    return folder if len(folder) <= MAX_TMP_PATH else "/tmp"


def kernel_env(home: Path, tmp: str | Path, lib: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's whole environment: nothing is inherited from the grader but `extra`."""
    env = {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(lib),
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env.update(extra or {})
    return env


def bwrap_prefix(work: Path, run: Path, lib: Path) -> list[str]:
    """The bubblewrap command line that runs a kernel in `work` (see the module docstring)."""
    size = ["--size", str(TMPFS_SIZE)] if bwrap_has_size() else []
    args = [
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
        *size,
        "--tmpfs",
        "/tmp",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
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
    args += [
        "--ro-bind",
        str(lib),
        str(lib),
        *size,
        "--tmpfs",
        str(SANDBOX_HOME),
        "--bind",
        str(work),
        str(work),
        "--bind",
        str(run),
        str(run),
        "--chdir",
        str(work),
    ]
    return args


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that always starts the course's Python kernel (whatever kernel the
    notebook names), through `LAUNCHER` with the limits, inside bubblewrap when `isolation` is
    `bwrap`, over ZeroMQ `ipc` sockets in `run_dir`."""

    isolation = Unicode("rlimits").tag(config=True)
    lib_dir = Unicode().tag(config=True)
    run_dir = Unicode().tag(config=True)
    memory_limit = Integer(0).tag(config=True)
    cpu_limit = Integer(0).tag(config=True)
    file_size_limit = Integer(1 << 30).tag(config=True)
    kernel_environment = Dict().tag(config=True)

    def __init__(self, **kwargs: Any):
        kwargs["kernel_name"] = "python3"
        super().__init__(**kwargs)
        if not self.run_dir:
            self.run_dir = tempfile.mkdtemp(prefix="autograder-kernel-")
        if not self.lib_dir:
            self.lib_dir = str(copy_library(Path(self.run_dir) / "lib"))
        run = Path(self.run_dir)
        self.transport = "ipc"
        self.ip = str(run / "k")
        self.connection_file = str(run / "kernel.json")

    @property
    def kernel_spec(self) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3 (course)",
            language="python",
            interrupt_mode="message",
        )

    @property
    def ipykernel(self) -> bool:
        return True

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        sandboxed = self.isolation == "bwrap"
        run = Path(self.run_dir)
        # The kernel works in a folder of its own, with the assignment's other files but not
        # the notebook being graded (nbgrader's copy of it holds the hidden tests).
        work = run / "work"
        work.mkdir(exist_ok=True)
        if kw.get("cwd") and Path(kw["cwd"]).is_dir():
            for item in Path(kw["cwd"]).iterdir():
                if item.suffix == ".ipynb" or item.name.startswith("."):
                    continue
                if item.is_dir():
                    shutil.copytree(item, work / item.name, dirs_exist_ok=True)
                else:
                    shutil.copy2(item, work / item.name)
        kw["cwd"] = str(work)
        if sandboxed:
            home, tmp = SANDBOX_HOME, "/tmp"
        else:
            home = tmp = run / "home"
            home.mkdir(parents=True, exist_ok=True)
        kw["env"] = kernel_env(home, tmp, Path(self.lib_dir), self.kernel_environment)
        command = [
            sys.executable,
            "-c",
            LAUNCHER,
            str(self.memory_limit),
            str(self.cpu_limit),
            str(CPU_HARD_MARGIN),
            str(self.file_size_limit),
            str(int(sandboxed)),
            *kernel_cmd,
        ]
        if sandboxed:
            command = bwrap_prefix(work, run, Path(self.lib_dir)) + command
        # The kernel's own stdout and stderr (start-up messages, a crash in compiled code).
        with open(run / "kernel.log", "ab") as log:
            kw["stdout"] = kw["stderr"] = log
            await super()._async_launch_kernel(command, **kw)


def exit_status(manager: AsyncKernelManager) -> tuple[int | None, int | None]:
    """`(exit code, signal)` of a kernel's process once it ended, `(None, None)` while it runs
    (bubblewrap reports a kernel killed by signal N as its own exit code 128 + N)."""
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    code = None if process is None else process.poll()
    if code is None:
        return None, None
    if code < 0:
        return None, -code
    if getattr(manager, "isolation", "") == "bwrap" and code > 128:
        return None, code - 128
    return code, None


@dataclass(frozen=True)
class Limits:
    """The limits a notebook runs under: seconds per cell (`timeout`, enforced by nbclient) and
    per notebook (`autograder.execute`, and `RLIMIT_CPU` as a backstop), bytes of memory
    (`RLIMIT_AS`) and of output kept per cell; 0: no limit."""

    timeout: int
    notebook_timeout: int
    memory_limit: int
    max_output_bytes: int


@dataclass
class Sandbox:
    """One submission's sandbox, in the folder `root`: `lib` (the course library, read-only),
    `run` (the kernel's sockets, working folder and output), the `isolation` and the `limits`.
    Made by `Sandbox.open`."""

    root: Path
    isolation: str
    limits: Limits
    _library: str = field(default="", init=False, repr=False)  # LIB's hash when opened

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @classmethod
    @contextlib.contextmanager
    def open(cls, root: Path, isolation: str, limits: Limits) -> Iterator[Sandbox]:
        """Copies the library into `root/lib` and makes `root/run`; undoes the library's
        read-only modes at the end, so that `root` can be deleted."""
        box = cls(root, isolation, limits)
        copy_library(box.lib)
        box.run.mkdir()
        box._library = box._lib_digest()
        try:
            yield box
        finally:
            make_writable(box.lib)

    def _lib_digest(self) -> str:
        return files_digest(self.lib, sorted(p for p in self.lib.rglob("*") if p.is_file()))

    def library_changed(self) -> bool:
        """Whether anything in LIB changed since `open` (only possible without bubblewrap,
        where the kernel runs as the grader's user and LIB is not mounted read-only)."""
        return self._lib_digest() != self._library

    def kernel_settings(self) -> dict[str, Any]:
        """The traits of `SandboxedKernelManager` for this sandbox."""
        return {
            "isolation": self.isolation,
            "lib_dir": str(self.lib),
            "run_dir": str(self.run),
            "memory_limit": self.limits.memory_limit,
            "cpu_limit": cpu_limit(self.limits.notebook_timeout),
        }

    def kernel_output(self) -> str:
        """The last lines the kernel process printed itself (a crash in compiled code), without
        ipykernel's start-up noise."""
        log = self.run / "kernel.log"
        if not log.exists():
            return ""
        lines = log.read_text(errors="replace").splitlines()
        kept = "\n".join(line for line in lines if line.strip() and not KERNEL_NOISE.search(line))
        return kept[-KERNEL_OUTPUT_TAIL:]
