"""Where student code runs: the kernel's sandbox and its limits.

Every kernel that runs a submission (`grade`) is started by `SandboxedKernelManager` through
`LAUNCHER`, a few lines of Python that set the limits of the process (`setrlimit`), copy the
assignment's files into the working folder and then `exec` the course's IPython kernel
(whatever kernel the notebook's metadata names). In a student's shared sandbox
(`Sandbox.open_shared`, bubblewrap only) `LAUNCHER` starts the zygote instead, once, and each
chapter's kernel is forked from it (`autograder.zygote`), under the same limits. The limits
(`Limits`), and what holds them:

- memory (`--memory-limit`): `RLIMIT_AS` per process (an allocation beyond it fails with a
  `MemoryError`), and a memory cgroup for all the sandbox's processes together, shared memory
  and tmpfs pages included (`autograder.cgroups`);
- processes (`--max-processes`): the cgroup's `pids.max` (a fork bomb meets `EAGAIN`); without
  a pids cgroup, `RLIMIT_NPROC` inside bubblewrap's user namespace (it does not hold for root);
- disk (`--disk-limit`): the working folder, /tmp, /dev/shm and HOME are tmpfs of that size
  (bubblewrap's `--size`), memory-backed, so their pages also count against the memory cgroup,
  and `RLIMIT_FSIZE` caps each file; RUN, the one folder of the grader's disk the kernel can write
  (its sockets; with rlimits, its working folder too), is watched while the kernel runs
  (`autograder.diskwatch`): beyond the disk limit or `MAX_RUN_FILES` entries, the whole sandbox is
  stopped and the notes say why;
- time: the wall clock (`autograder.execute`), and `RLIMIT_CPU` (the notebook's time limit plus
  a margin: SIGXCPU) per process;
- nothing outlives the kernel: when it is shut down, every process left in its cgroup is killed
  (a daemon that double-forked into a session of its own included), and under bubblewrap the
  PID namespace dies with it. Only then does the grader write the log and the result, in folders
  that are not mounted in the sandbox.

When bubblewrap (`bwrap`) works on the machine, the kernel also runs in a sandbox of its own
(`isolation` = `"bwrap"`, `autograder.bwrap`): no network, no file of the machine but the system,
Python, the course library (LIB, read-only: `vaelab` without the reference answers of the graded
chapter and of the later ones, `library.sandbox_files`), the assignment's files (without the notebook
being graded: nbgrader's copy holds the hidden test cells) and RUN, the folder of its connection
file and Unix sockets (ZeroMQ `ipc`: it has no network). Interrupts go through the control
channel (`interrupt_mode = "message"`), since signals do not cross the sandbox. The environment
is rebuilt from scratch (`kernel_env`).

`--isolation rlimits` is the instructor's explicit choice of weaker isolation, for machines
where bubblewrap cannot run: the same process limits, cgroup and scrubbed environment, a private
HOME, but the kernel can read what the grader's user can read and reach the network; the log,
the feedback and the results say so. `auto` never falls back to it: where bubblewrap does not
work it refuses (`resolve`). What held is recorded for every run (`Sandbox.held`).

One submission's sandbox is a `Sandbox`: its folders (LIB, FILES, RUN), its cgroup, its limits,
the settings of its kernel manager (`kernel_settings`), what the kernel printed (read back with
bounded, no-follow reads: `read_tail`), and whether the library changed while it ran
(`library.library_digest`, the one hash of the library: the results' hash uses it too).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Any as AnyTrait
from traitlets import Dict, Integer, List, Unicode

from .bwrap import SANDBOX_HOME, bwrap_has_size, bwrap_prefix, bwrap_works
from .cgroups import Cgroup, kill_marked
from .diskwatch import DiskWatch
from .files import empty_folder, files_digest
from .library import copy_library, extend_library, make_writable
from .zygote import Zygote

#: The isolation levels, strongest first; `auto` picks the strongest that works here.
ISOLATIONS = ("bwrap", "rlimits")

#: What `isolation` means, for the log and the feedback.
DESCRIPTIONS = {
    "bwrap": "bubblewrap sandbox: no network, only the course library and the submission's own "
    "folder visible, memory, process, disk and CPU limits",
    "rlimits": "weaker isolation, chosen by the instructor (--isolation rlimits): process limits only "
    "(memory, CPU time, private HOME and temporary folder, clean environment); the file system and "
    "the network are NOT isolated",
}

#: The size of each of the sandbox's tmpfs (WORK, /tmp, /dev/shm, HOME), by default.
DISK_LIMIT = 512 << 20
#: The processes and threads of one sandbox, by default (a graded kernel that imported torch had
#: 11 threads: `len(os.listdir('/proc/self/task'))` in a cell, OMP_NUM_THREADS=1).
MAX_PROCESSES = 256
#: The smallest address space (`RLIMIT_AS`) of a process when the memory cgroup holds the memory
#: of the whole sandbox: address space is not memory (an idle kernel maps far more than it
#: touches), so a small memory limit is left to the cgroup.
ADDRESS_SPACE_FLOOR = 1 << 30
#: The largest file a kernel may write (`RLIMIT_FSIZE`).
FILE_SIZE_LIMIT = 1 << 30
#: The most files and folders a kernel may leave in RUN, its folder on the grader's disk (`DiskWatch`).
MAX_RUN_FILES = 10_000
#: Where the sandbox notes why `DiskWatch` stopped it (in the sandbox's root, which it cannot see).
DISK_NOTE = "disk-stopped.txt"

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

#: Sets the limits, copies the assignment's files, then becomes the kernel: `python -c LAUNCHER
#: MEMORY CPU CPU_HARD_MARGIN FSIZE NPROC SANDBOXED FILES KERNEL_ARGV...` (FILES: "" for none).
#: In the sandbox the grader's PID means nothing (JPY_PARENT_PID would make the kernel exit at
#: once): bubblewrap's --die-with-parent ties the kernel to the grader instead. Outside,
#: PR_SET_PDEATHSIG kills the kernel when the grader dies.
LAUNCHER = """\
import os, resource, shutil, sys
memory, cpu, hard_margin, fsize, nproc, sandboxed = (int(a) for a in sys.argv[1:7])
if memory > 0:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
if cpu > 0:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + hard_margin))
if fsize > 0:
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
if nproc > 0:
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if sys.argv[7]:
    shutil.copytree(sys.argv[7], ".", symlinks=True, dirs_exist_ok=True)
if sandboxed:
    os.environ.pop("JPY_PARENT_PID", None)
else:
    try:
        import ctypes, signal
        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:
        pass
argv = sys.argv[8:]
os.execv(argv[0], argv)
"""


def resolve(isolation: str = "auto") -> str:
    """The isolation to use: `bwrap` (`auto` too) when bubblewrap works here, `rlimits` only
    when asked for by name (the instructor's explicit choice of weaker isolation). Raises
    `RuntimeError` when bubblewrap is asked for (`auto` included) and does not work: never a
    silent fall back."""
    if isolation not in ("auto", *ISOLATIONS):
        raise ValueError(f"unknown isolation {isolation!r}: expected auto, bwrap or rlimits")
    if isolation in ("auto", "bwrap") and not bwrap_works():
        raise RuntimeError(
            "refusing to grade: bubblewrap (bwrap) is missing or cannot create namespaces here, "
            "so student code would not be isolated; install it (apt-get install bubblewrap) or, "
            "to grade with process limits only (the file system and the network NOT isolated), "
            "pass --isolation rlimits"
        )
    return "bwrap" if isolation == "auto" else isolation


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


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that always starts the course's Python kernel (whatever kernel the
    notebook names), through `LAUNCHER` with the limits, in the cgroup `cgroup_procs`, inside
    bubblewrap when `isolation` is `bwrap`, over ZeroMQ `ipc` sockets in `run_dir`; when the
    kernel is shut down, every process it left is killed (`end_leftovers`)."""

    isolation = Unicode("rlimits").tag(config=True)
    lib_dir = Unicode().tag(config=True)
    run_dir = Unicode().tag(config=True)
    files_dir = Unicode().tag(config=True)  # the assignment's files, staged for bubblewrap
    log_file = Unicode().tag(config=True)  # the kernel's own stdout and stderr, outside RUN
    memory_limit = Integer(0).tag(config=True)
    cpu_limit = Integer(0).tag(config=True)
    file_size_limit = Integer(FILE_SIZE_LIMIT).tag(config=True)
    process_limit = Integer(0).tag(config=True)  # RLIMIT_NPROC (0: none; the cgroup holds it)
    disk_limit = Integer(DISK_LIMIT).tag(config=True)
    cgroup_procs = List(Unicode()).tag(config=True)
    marker = Unicode().tag(config=True)  # AUTOGRADER_SANDBOX in the kernel's environment
    disk_note = Unicode().tag(config=True)  # where DiskWatch writes why it stopped the sandbox
    kernel_environment = Dict().tag(config=True)
    zygote = AnyTrait(None, allow_none=True).tag(config=True)  # a shared sandbox's `Zygote`: fork, not start

    def __init__(self, **kwargs: Any):
        kwargs["kernel_name"] = "python3"
        super().__init__(**kwargs)
        if not self.run_dir:  # outside a `Sandbox`: a folder of its own, the log beside RUN
            self.run_dir = str(Path(tempfile.mkdtemp(prefix="autograder-kernel-")) / "run")
            Path(self.run_dir).mkdir()
        if not self.lib_dir:
            self.lib_dir = str(copy_library(Path(self.run_dir) / "lib"))
        run = Path(self.run_dir)
        self.transport = "ipc"
        self.ip = str(run / "k")
        self.connection_file = str(run / "kernel.json")
        self._kernel_pid = 0
        self._disk_watch: DiskWatch | None = None

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

    def _stage(self, source: Path | None, sandboxed: bool) -> Path:
        """Copies the assignment's files in `source` (all but notebooks and hidden files: nbgrader's
        copy of the notebook holds the hidden tests) where the launcher finds them: FILES, which
        bubblewrap mounts read-only and the launcher copies into its tmpfs WORK, or else WORK
        itself. Returns WORK."""
        work = Path(self.run_dir) / "work"
        work.mkdir(exist_ok=True)
        dest = Path(self.files_dir) if sandboxed and self.files_dir else work
        dest.mkdir(exist_ok=True)
        if source is not None and source.is_dir():
            for item in source.iterdir():
                if item.suffix == ".ipynb" or item.name.startswith(".") or item.is_symlink():
                    continue
                if item.is_dir():
                    shutil.copytree(item, dest / item.name, dirs_exist_ok=True)
                else:
                    shutil.copy2(item, dest / item.name)
        return work

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        sandboxed = self.isolation == "bwrap"
        run = Path(self.run_dir)
        work = self._stage(Path(kw["cwd"]) if kw.get("cwd") else None, sandboxed)
        kw["cwd"] = str(work)
        files = self.files_dir if sandboxed and self.files_dir else ""
        if sandboxed:
            home, tmp = SANDBOX_HOME, "/tmp"
        else:
            home = tmp = run / "home"
            home.mkdir(parents=True, exist_ok=True)
        extra = {**self.kernel_environment, "AUTOGRADER_SANDBOX": self.marker} if self.marker else None
        kw["env"] = kernel_env(home, tmp, Path(self.lib_dir), extra or self.kernel_environment)
        if self.zygote is not None:
            self._launch_forked(kernel_cmd, work, kw["env"])
            return
        command = self.launch_command(kernel_cmd, work, copied=files, sandboxed=sandboxed)
        # The kernel's own stdout and stderr (start-up messages, a crash in compiled code), in a
        # file the sandbox does not see.
        with open(self.log_file or run.parent / "kernel.log", "ab") as log:
            kw["stdout"] = kw["stderr"] = log
            await super()._async_launch_kernel(command, **kw)
        process = getattr(getattr(self, "provisioner", None), "process", None)
        self._kernel_pid = getattr(process, "pid", 0) or 0
        limit = self.disk_limit or DISK_LIMIT
        self._disk_watch = DiskWatch(run, limit, MAX_RUN_FILES, self._disk_full).start()

    def launch_command(self, command: list[str], work: Path, copied: str, sandboxed: bool = True) -> list[str]:
        """`command` run by `LAUNCHER` under this sandbox's process limits, after it copied the
        files of the folder `copied` ("" for none) into `work`: inside bubblewrap when `sandboxed`,
        in the sandbox's cgroup."""
        limits = (self.memory_limit, self.cpu_limit, CPU_HARD_MARGIN, self.file_size_limit, self.process_limit)
        command = [sys.executable, "-c", LAUNCHER, *map(str, limits), str(int(sandboxed)), copied, *command]
        if sandboxed:
            lib = Path(self.lib_dir)
            command = (
                bwrap_prefix(work, Path(self.run_dir), lib, Path(self.files_dir or lib), self.disk_limit) + command
            )
        return Cgroup([Path(p).parent for p in self.cgroup_procs]).join_command(command)

    def _launch_forked(self, kernel_cmd: list[str], work: Path, env: dict[str, str]) -> None:
        """The kernel forked by the shared sandbox's zygote (`autograder.zygote`), in the place
        of the process jupyter_client's provisioner would start; DiskWatch as for any kernel."""
        process = self.zygote.start_kernel(kernel_cmd[3:], env, str(work), self.files_dir)
        provisioner = self.provisioner
        provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, None
        self._reconcile_connection_info(provisioner.connection_info)
        limit = self.disk_limit or DISK_LIMIT
        self._disk_watch = DiskWatch(Path(self.run_dir), limit, MAX_RUN_FILES, self._disk_full).start()

    def _disk_full(self, reason: str) -> None:
        """`DiskWatch`'s call: notes why, then stops every process of the sandbox."""
        if self.disk_note:
            Path(self.disk_note).write_text(reason, encoding="utf-8")
        if self.zygote is not None:  # the zygote too: the student's next chapter gets a new sandbox
            self.zygote.kill(f"stopped: {reason}")
            Cgroup([Path(p).parent for p in self.cgroup_procs]).kill()
            return
        self.end_leftovers()
        if self._kernel_pid:  # without a cgroup, bubblewrap's PID namespace dies with its first process
            with contextlib.suppress(OSError):
                os.kill(self._kernel_pid, signal.SIGKILL)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        if self._disk_watch is not None:
            self._disk_watch.stop()
        self.end_leftovers()
        await super()._async_cleanup_resources(restart=restart)

    def end_leftovers(self) -> int:
        """Kills every process the kernel left: its cgroup, and without bubblewrap its process
        group and the processes that carry its marker; returns how many were killed. In a shared
        sandbox, every process but the zygote (all of them when the zygote does not answer)."""
        if self.zygote is not None and self.zygote.stop():
            return 0
        killed = Cgroup([Path(p).parent for p in self.cgroup_procs]).kill()
        if self.isolation != "bwrap":
            killed += kill_marked(self.marker, self._kernel_pid)
        return killed


def exit_status(manager: AsyncKernelManager) -> tuple[int | None, int | None]:
    """`(exit code, signal)` of a kernel's process once it ended, `(None, None)` while it runs
    (bubblewrap reports a kernel killed by signal N as its own exit code 128 + N)."""
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    code = None if process is None else process.poll()
    if code is None:
        return None, None
    if code < 0:
        return None, -code
    if getattr(manager, "isolation", "") == "bwrap" and code > 128 and not getattr(process, "exact_status", False):
        return None, code - 128
    return code, None


@dataclass(frozen=True)
class Limits:
    """The limits a notebook runs under: seconds per cell (`timeout`, enforced by nbclient) and
    per notebook (`autograder.execute`, and `RLIMIT_CPU` as a backstop), bytes of memory (the
    sandbox's cgroup, and `RLIMIT_AS` per process), bytes of output kept per cell, processes and
    threads of the sandbox, bytes of each tmpfs (WORK, /tmp, /dev/shm, HOME); 0: no limit."""

    timeout: int
    notebook_timeout: int
    memory_limit: int
    max_output_bytes: int
    processes: int = MAX_PROCESSES
    disk: int = DISK_LIMIT


@dataclass
class Sandbox:
    """One submission's sandbox, in the folder `root`: `lib` (the course library, read-only),
    `files` (the assignment's files, staged), `run` (the kernel's sockets and working folder),
    the `isolation`, the `limits` and the `cgroup`. Made by `Sandbox.open`."""

    root: Path
    isolation: str
    limits: Limits
    cgroup: Cgroup = field(default_factory=Cgroup)
    events: dict[str, int] = field(default_factory=dict)  # what the cgroup's limits stopped (`end`)
    zygote: Zygote | None = None  # a shared sandbox's (`open_shared`)
    _library: str = field(default="", init=False, repr=False)  # LIB's hash when opened
    _counted: dict[str, int] = field(default_factory=dict, init=False, repr=False)  # events before this chapter
    _log_start: int = field(default=0, init=False, repr=False)  # where this chapter's kernel output starts
    _own: set[int] = field(default_factory=set, init=False, repr=False)  # the zygote's processes (host PIDs)

    @property
    def lib(self) -> Path:
        return self.root / "lib"

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def marker(self) -> str:
        return self.root.name

    @classmethod
    @contextlib.contextmanager
    def open(
        cls, root: Path, isolation: str, limits: Limits, chapter: str | None = None, substitutes: tuple[str, ...] = ()
    ) -> Iterator[Sandbox]:
        """Copies the library for grading `chapter` (`copy_library`, with the reference helpers
        `substitutes`) into `root/lib`, makes
        `root/run` and the cgroup; at the end, kills
        what is left in the sandbox (`end`), removes the cgroup and undoes the library's
        read-only modes, so that `root` can be deleted."""
        box = cls(root, isolation, limits, Cgroup.create(limits.memory_limit, limits.processes))
        try:
            copy_library(box.lib, chapter, substitutes)
            box.run.mkdir()
            box.files.mkdir()
            box._library = box._lib_digest()
            yield box
        finally:
            box.end()
            box.cgroup.remove()
            make_writable(box.lib)
            with contextlib.suppress(OSError):  # RUN, which the kernel could write, however deep
                empty_folder(box.run)

    @classmethod
    @contextlib.contextmanager
    def open_shared(cls, root: Path, limits: Limits, chapter: str) -> Iterator[Sandbox]:
        """A bubblewrap sandbox for a student's chapters from `chapter` on, graded in order
        (`next_chapter`), with a `Zygote` that forks each chapter's kernel (`autograder.zygote`)."""
        with cls.open(root, "bwrap", limits, chapter) as box:
            work = box.run / "work"
            work.mkdir()
            settings = box.kernel_settings()
            settings.pop("zygote")
            command = SandboxedKernelManager(**settings).launch_command([sys.executable], work, copied="")
            environment = kernel_env(SANDBOX_HOME, "/tmp", box.lib)
            box.zygote = Zygote(command, root / "kernel.log", work, environment)
            try:
                box._own = box.cgroup.pids()
                yield box
            finally:
                box.zygote.close()

    def next_chapter(self, chapter: str) -> None:
        """Makes a shared sandbox ready for `chapter`'s notebook: the reference modules of the
        chapters before it added to LIB (chapters come in order: an earlier one after a later
        one is refused), this chapter's files, folders and counters started afresh."""
        extend_library(self.lib, chapter)
        if (self.root / "course").exists():
            shutil.rmtree(self.root / "course")
        # FILES and RUN are mounted in the sandbox: emptied, never replaced (a mount holds the folder,
        # not its name). WORK, a tmpfs inside RUN, is the zygote's to empty.
        empty_folder(self.files)
        empty_folder(self.run, keep=("work",))
        for name in ("report.json", "observations.jsonl", DISK_NOTE):
            (self.root / name).unlink(missing_ok=True)
        self._library = self._lib_digest()
        self._counted = self.cgroup.events() if self.cgroup.folders else {}
        self.events = {}
        log = self.root / "kernel.log"
        self._log_start = log.stat().st_size if log.exists() else 0

    @property
    def broken(self) -> str:
        """Why a shared sandbox cannot grade another chapter ("" when it can)."""
        return self.zygote.broken if self.zygote is not None else ""

    def end(self) -> None:
        """Kills every process left in the sandbox and records what its limits stopped
        (`events`); the grader calls it before it writes anything about the run. A shared
        sandbox keeps its zygote, once the cgroup shows that nothing else is left; else it
        ends whole."""
        if self.zygote is None or not self.zygote.stop() or not self.cgroup.pids() <= self._own:
            if self.zygote is not None:
                self.zygote.kill(self.zygote.broken or "a process of the sandbox outlived its chapter")
            self.cgroup.kill()
        if self.isolation != "bwrap":
            kill_marked(self.marker, 0)
        if self.cgroup.folders:
            counts = self.cgroup.events()
            self.events = {key: counts[key] - self._counted.get(key, 0) for key in counts}

    def held(self) -> str:
        """The limits that held in this sandbox, in words (the log and the feedback show it)."""
        limits, held = self.limits, self.cgroup.held
        memory = f"{gib(self.address_space())} of address space per process (RLIMIT_AS)"
        if "memory" in held:
            memory = f"{gib(limits.memory_limit)} for all processes together (cgroup v{self.cgroup.version}), " + memory
        processes = (
            f"{limits.processes} processes and threads (cgroup pids.max)"
            if "pids" in held
            else f"{limits.processes} processes (RLIMIT_NPROC)"
            if self.nproc()
            else "no limit on processes (no pids cgroup here)"
        )
        disk = (
            f"working folder, /tmp, /dev/shm and HOME: tmpfs of {gib(limits.disk)} each"
            if self.isolation == "bwrap" and bwrap_has_size()
            else f"working folder on the host disk, {gib(FILE_SIZE_LIMIT)} per file (RLIMIT_FSIZE)"
        )
        disk += f"; the kernel's folder on the grader's disk watched: {gib(self.limits.disk or DISK_LIMIT)}, "
        disk += f"{MAX_RUN_FILES} files"
        return f"memory: {memory}; {processes}; {disk}"

    def address_space(self) -> int:
        """`RLIMIT_AS` of each process: the memory limit, or at least `ADDRESS_SPACE_FLOOR` when the
        cgroup holds the memory of all processes together."""
        memory = self.limits.memory_limit
        return max(memory, ADDRESS_SPACE_FLOOR) if memory and "memory" in self.cgroup.held else memory

    def nproc(self) -> int:
        """`RLIMIT_NPROC` for the kernel: only in bubblewrap's user namespace, without a pids
        cgroup and not for root (the kernel of the machine exempts root's processes)."""
        if self.isolation == "bwrap" and "pids" not in self.cgroup.held and os.geteuid() != 0:
            return self.limits.processes
        return 0

    def limit_notes(self) -> list[str]:
        """The notes about the sandbox's limits that the run reached."""
        notes = []
        if self.events.get("oom_kill"):
            notes.append(
                f"memory: the sandbox reached its memory limit ({gib(self.limits.memory_limit)}, "
                f"all processes together): {self.events['oom_kill']} process(es) killed"
            )
        stopped = read_tail(self.root / DISK_NOTE, 1000)
        if stopped:
            notes.append(f"disk: the sandbox was stopped: {stopped}")
        if self.events.get("pids_max"):
            notes.append(
                f"processes: the sandbox reached its limit of {self.limits.processes} processes and "
                f"threads: {self.events['pids_max']} fork(s) refused"
            )
        return notes

    def _lib_digest(self) -> str:
        return files_digest(self.lib, sorted(p for p in self.lib.rglob("*") if p.is_file()))

    def library_changed(self) -> bool:
        """Whether anything in LIB changed since `open` (only possible without bubblewrap,
        where the kernel runs as the grader's user and LIB is not mounted read-only). A link,
        FIFO or device planted there counts as a change, and is never read."""
        for folder, folders, names in os.walk(self.lib):
            for name in names + folders:
                mode = os.lstat(os.path.join(folder, name)).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    return True
        return self._lib_digest() != self._library

    def kernel_settings(self) -> dict[str, Any]:
        """The traits of `SandboxedKernelManager` for this sandbox."""
        return {
            "isolation": self.isolation,
            "lib_dir": str(self.lib),
            "run_dir": str(self.run),
            "files_dir": str(self.files),
            "log_file": str(self.root / "kernel.log"),
            "memory_limit": self.address_space(),
            "cpu_limit": cpu_limit(self.limits.notebook_timeout),
            "process_limit": self.nproc(),
            "disk_limit": self.limits.disk,
            "cgroup_procs": [str(p) for p in self.cgroup.procs],
            "marker": self.marker,
            "disk_note": str(self.root / DISK_NOTE),
            "zygote": self.zygote,
        }

    def kernel_output(self) -> str:
        """The last lines the kernel process printed itself (a crash in compiled code), without
        ipykernel's start-up noise."""
        text = read_tail(self.root / "kernel.log", 4 * KERNEL_OUTPUT_TAIL, self._log_start)
        kept = "\n".join(line for line in text.splitlines() if line.strip() and not KERNEL_NOISE.search(line))
        return kept[-KERNEL_OUTPUT_TAIL:]


def read_tail(path: Path, limit: int, start: int = 0) -> str:
    """The last `limit` bytes of the regular file `path` (from byte `start` on), decoded; "" when
    it is missing, a symbolic link, a FIFO, a device or anything else that is not a regular file.
    Never follows a link, never blocks, never reads more than `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return ""
        os.lseek(fd, max(start, info.st_size - limit), os.SEEK_SET)
        return os.read(fd, limit).decode("utf-8", errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)
