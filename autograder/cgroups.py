"""Limits on a whole sandbox, all its processes together: a control group (cgroup) per kernel.

`RLIMIT_AS` and `RLIMIT_CPU` hold per process, so a notebook that starts children (or a fork
bomb) could go around them. Where the machine lets the grader make cgroups, each kernel runs in a
`Cgroup` of its own, made before it starts and emptied when it ends:

- `pids.max`: the number of processes and threads of the sandbox (a fork bomb meets `EAGAIN`);
- `memory.max` (v2) or `memory.limit_in_bytes` (v1): the memory of all its processes together,
  shared memory included (`memfd_create`, `/dev/shm` and the sandbox's tmpfs pages are charged to
  the cgroup of the process that wrote them), and no swap to spill into;
- `kill`: SIGKILL to every process still in it (a daemon left by the notebook, double-forked
  and in a session of its own, is still in the cgroup), until it is empty; then it is removed.
  The cgroups of a grader that died without removing them are killed and removed by the next
  one made beside them (`_sweep`).

Both hierarchies are supported: the unified one (v2, `/sys/fs/cgroup/cgroup.controllers`; the
grader's own cgroup must let it make children with the memory and pids controllers, as a
delegated systemd unit or a container's root does) and v1 (`/sys/fs/cgroup/memory` and
`/sys/fs/cgroup/pids`, children made under the grader's own cgroup of each). Whatever does not
work is left out, and `Cgroup.held` says which limits hold; nothing here raises.

A kernel joins the cgroup before it starts (`join_command`): `/bin/sh` writes its own PID into
each `cgroup.procs`, then `exec`s the kernel's command (bubblewrap or the launcher), so that
every process of the sandbox starts inside it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
#: The start of the name of every sandbox's cgroup, followed by the PID of the grader that made it.
PREFIX = "autograder-"
#: The controllers a sandbox uses.
CONTROLLERS = ("memory", "pids")
#: How long `kill` keeps killing before it gives up on a cgroup that does not empty (seconds).
KILL_SECONDS = 5.0
#: Joins the cgroups given as arguments up to `--`, then runs the rest: `sh -c JOIN sh PROCS... -- COMMAND...`.
JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 126; shift; done; shift; exec "$@"'


def _own_paths() -> dict[str, str]:
    """`{controller: path}` of the grader's own cgroups ("" for the unified hierarchy)."""
    paths = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path.lstrip("/")
    return paths


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _sweep(parent: Path) -> None:
    """Kills and removes the cgroups under `parent` of graders that died without removing them
    (a worker killed by the batch's hard limit, or `kill -9`): their names carry the PID of the
    process that made them."""
    for folder in parent.glob(f"{PREFIX}*"):
        creator = folder.name[len(PREFIX) :].split("-")[0]
        if creator.isdigit() and not _alive(int(creator)):
            Cgroup([folder]).remove()


def _make(parent: Path, name: str) -> Path | None:
    _sweep(parent)
    folder = parent / name
    try:
        folder.mkdir()
    except OSError:
        return None
    return folder


@dataclass
class Cgroup:
    """The cgroups of one sandbox (one folder in v2, one per controller in v1), `held`:
    `{"memory": bytes, "pids": count}` for the limits that hold."""

    folders: list[Path] = field(default_factory=list)
    held: dict[str, int] = field(default_factory=dict)
    version: int = 0

    @classmethod
    def create(cls, memory: int, pids: int) -> Cgroup:
        """A cgroup with these limits (0: no limit), or an empty one where the machine has none."""
        name = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        own = _own_paths()
        if (ROOT / "cgroup.controllers").exists():
            return cls._create_v2(ROOT / own.get("", ""), name, memory, pids)
        group = cls(version=1)
        for controller in CONTROLLERS:
            base = ROOT / controller
            folder = _make(base / own.get(controller, ""), name) if base.is_dir() else None
            if folder is None:
                continue
            group.folders.append(folder)
            group._limit_v1(controller, folder, memory, pids)
        return group

    @classmethod
    def _create_v2(cls, parent: Path, name: str, memory: int, pids: int) -> Cgroup:
        group = cls(version=2)
        folder = _make(parent, name)
        if folder is None:
            return group
        group.folders.append(folder)
        try:
            enabled = set((folder / "cgroup.controllers").read_text().split())
        except OSError:
            enabled = set()
        if "memory" in enabled and memory and _write(folder / "memory.max", str(memory)):
            _write(folder / "memory.swap.max", "0")
            group.held["memory"] = memory
        if "pids" in enabled and pids and _write(folder / "pids.max", str(pids)):
            group.held["pids"] = pids
        return group

    def _limit_v1(self, controller: str, folder: Path, memory: int, pids: int) -> None:
        if controller == "memory" and memory and _write(folder / "memory.limit_in_bytes", str(memory)):
            _write(folder / "memory.memsw.limit_in_bytes", str(memory))  # no swap beyond it
            self.held["memory"] = memory
        if controller == "pids" and pids and _write(folder / "pids.max", str(pids)):
            self.held["pids"] = pids

    @property
    def procs(self) -> list[Path]:
        """The `cgroup.procs` files a process writes its PID into to join."""
        return [folder / "cgroup.procs" for folder in self.folders]

    def join_command(self, command: list[str]) -> list[str]:
        """`command`, run inside this cgroup (unchanged when there is none)."""
        if not self.folders:
            return command
        return ["/bin/sh", "-c", JOIN, "sh", *map(str, self.procs), "--", *command]

    def pids(self) -> set[int]:
        """The processes in the cgroup now."""
        found = set()
        for procs in self.procs:
            try:
                found |= {int(p) for p in procs.read_text().split()}
            except (OSError, ValueError):
                pass
        return found

    def events(self) -> dict[str, int]:
        """What the limits stopped: `oom_kill` (processes killed for memory) and `pids_max`
        (forks refused)."""
        counts = {"oom_kill": 0, "pids_max": 0}
        for folder in self.folders:
            for name, key, event in (
                ("memory.events", "oom_kill", "oom_kill"),
                ("memory.oom_control", "oom_kill", "oom_kill"),
                ("pids.events", "pids_max", "max"),
            ):
                counts[key] += _event(folder / name, event)
        return counts

    def kill(self) -> int:
        """Kills every process in the cgroup until it is empty; returns how many were killed."""
        killed = 0
        for folder in self.folders:
            _write(folder / "cgroup.kill", "1")  # v2, Linux 5.14: the whole cgroup at once
        deadline = time.monotonic() + KILL_SECONDS
        while time.monotonic() < deadline:
            left = self.pids()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except OSError:
                    pass
            time.sleep(0.02)
        return killed

    def remove(self) -> None:
        """Kills what is left and removes the cgroup's folders."""
        self.kill()
        for folder in self.folders:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)  # the last processes are still being reaped
        self.folders = []


def _event(path: Path, name: str) -> int:
    """The count of `name` in a `key value` file such as memory.events (0 when absent)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value)
    return 0


def kill_marked(marker: str, group: int) -> int:
    """Without a cgroup, the best that can be done outside bubblewrap: SIGKILL to the process
    group `group` (the kernel's session, 0: none) and to every process of this user whose
    environment holds `AUTOGRADER_SANDBOX=marker` (a daemon that left the session but kept its
    environment); returns how many were signalled."""
    killed = 0
    if group > 0:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
            killed += 1
    if not marker:
        return killed
    needle = f"AUTOGRADER_SANDBOX={marker}".encode() + b"\0"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(entry / "environ", "rb") as file:
                environ = file.read(1 << 20)
            if needle in environ or environ.endswith(needle[:-1]):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
        except OSError:
            continue
    return killed
