"""One prepared Python per student's sandbox, forked into a fresh kernel for each of their chapters.

Starting a kernel and importing torch, matplotlib and IPython cost about 2 of the 4 CPU seconds of
a graded notebook, the same 2 seconds for every notebook. A worker grades all the chapters of one
student, in chapter order, in one bubblewrap sandbox (`Sandbox.open_shared`); in it `ZYGOTE`,
started once, imports those modules and then, for each chapter, wipes the sandbox's writable
folders, copies in the chapter's files and forks a fresh kernel (`Zygote.start_kernel`), which
runs the notebook exactly as a kernel started from scratch would (same environment, same working
folder on `sys.path`, its own session), except that what it prints outside the notebook goes
through a pipe to the zygote, which copies it to the sandbox's log (no kernel holds the grader's
file). Between chapters `Zygote.stop` kills every other process of the sandbox (`kill(-1)`: the
sandbox has a PID namespace of its own), removes the System V objects of its IPC namespace and
empties its writable folders, read-only ones included, without entering bubblewrap's mounts; it
answers how many things are left, and the grader ends the whole sandbox unless none is and the
sandbox's cgroup holds only the zygote's processes.

What a student's chapters share is only what they share as a student: a later chapter's kernel
runs where an earlier one ran, after the wipe. The library grows in chapter order
(`Sandbox.next_chapter`): chapter N's kernel sees the reference modules of the chapters before
N, and each is added only after the earlier chapters were judged. The zygote holds nothing of the
grader's: it is not dumpable, so no kernel can trace it or write into its memory; a kernel can
still kill or stop it, and then the zygote stops answering, the grader ends that sandbox, and the
student's next chapter gets a new one.

Protocol, one JSON object per line: the grader writes requests to the zygote's stdin
(`{"start": {...}}`, `{"stop": true}`); the zygote answers on a pipe whose descriptor is its argument
(`{"ready": pid}`, `{"started": pid}`, `{"exited": pid, "status": code}`, `{"stopped": left}`,
`{"error": text}`). Used only with bubblewrap: outside a PID namespace `kill(-1)` would reach
every process of the grader's user.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

#: Seconds the grader waits for the zygote to be ready (its imports) and to answer a request.
READY_SECONDS = 120
ANSWER_SECONDS = 20
#: The longest reply line the grader reads.
MAX_REPLY = 4096
#: The smallest memory limit under which a sandbox is shared (the zygote holds about 250 MB of
#: imported modules, which count against the sandbox's memory); 0 (no limit) shares too.
MIN_SHARED_MEMORY = 1 << 30

#: The zygote: `python -c ZYGOTE`, run by the sandbox's launcher (its limits already set), in the
#: working folder WORK. It imports what every kernel imports, then serves requests until stdin closes.
ZYGOTE = r"""
import json, os, select, shutil, signal, sys, time
# as ipykernel sets it before any notebook imports matplotlib, so that the import below reads it
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
import numpy, torch, matplotlib, matplotlib.figure, matplotlib.font_manager
import IPython, ipykernel.ipkernel, ipykernel.kernelapp
import ctypes
ctypes.CDLL(None).prctl(4, 0)  # PR_SET_DUMPABLE 0: no kernel may trace this process or write its memory
REPLY, ENV, ME = int(sys.argv[1]), dict(os.environ), os.getpid()
kernel, output = 0, None  # the last kernel forked, and the pipe of its stdout and stderr

def reply(**message):
    os.write(REPLY, (json.dumps(message) + "\n").encode())

def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid == kernel:
            reply(exited=pid, status=os.waitstatus_to_exitcode(status))

def others():
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, ME):
            try:
                with open(f"/proc/{name}/stat") as stat:
                    if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                        found.append(int(name))
            except OSError:
                pass
    return found

def kill_others():
    # Every process of the sandbox but bubblewrap's init and this one; returns how many are left.
    for _ in range(500):
        reap()
        if not others():
            return 0
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        time.sleep(0.01)
    return len(others())

def remove_ipc():
    # The System V objects of the sandbox's IPC namespace (it lives as long as this process);
    # returns how many are left.
    libc, left = ctypes.CDLL(None, use_errno=True), 0
    remove = {"shm": lambda i: libc.shmctl(i, 0, None), "msg": lambda i: libc.msgctl(i, 0, None),
              "sem": lambda i: libc.semctl(i, 0, 0)}  # IPC_RMID
    for kind, rid in remove.items():
        path = f"/proc/sysvipc/{kind}"
        if os.path.exists(path):
            for line in open(path).read().splitlines()[1:]:
                rid(int(line.split()[1]))
            left += len(open(path).read().splitlines()[1:])
    return left

def mount_points():
    with open("/proc/self/mountinfo") as info:
        return {line.split()[4] for line in info}

MOUNTS = mount_points()  # bubblewrap's: never entered, never removed
ABOVE = set()  # the folders that lead to them: entered, never removed
for point in MOUNTS:
    while point != "/":
        point = os.path.dirname(point)
        ABOVE.add(point)
FOLDERS = {folder: os.stat(folder).st_mode & 0o7777 for folder in (os.getcwd(), "/tmp", "/dev/shm", os.environ["HOME"])}

def entries(folder):
    # The entries below `folder` that the kernels made (not a mount point, nor a folder above one),
    # each folder before what it holds, and how many folders could not be read (too deep, say).
    found, unread, stack = [], 0, [folder]
    while stack:
        current = stack.pop()
        try:
            listed = list(os.scandir(current))
        except OSError:
            unread += 1
            continue
        for entry in listed:
            if entry.path in MOUNTS:
                continue
            if entry.is_dir(follow_symlinks=False):
                try:
                    os.chmod(entry.path, 0o700)  # made read-only by a kernel: this process owns it
                except OSError:
                    pass
                stack.append(entry.path)
            if entry.path not in ABOVE:
                found.append(entry)
    return found, unread

def empty(folder, mode):
    # Empties `folder` of what the kernels left; returns how many entries are left.
    os.chmod(folder, mode)
    for entry in reversed(entries(folder)[0]):  # what a folder holds before the folder
        try:
            os.rmdir(entry.path) if entry.is_dir(follow_symlinks=False) else os.unlink(entry.path)
        except OSError:
            pass
    left, unread = entries(folder)
    return len(left) + unread

def copy_output(wait):
    # What the kernels printed, from their pipe to this process's stderr (the grader's log, which
    # no kernel holds); `wait`: until every writer is gone.
    global output
    while output is not None and select.select([output], [], [], 1 if wait else 0)[0]:
        chunk = os.read(output, 65536)
        if not chunk:
            os.close(output)
            output = None
            return
        try:
            os.write(2, chunk)
        except OSError:  # the log's size limit: the rest is dropped
            pass

def stop():
    # Kills every other process, removes the IPC objects, empties the writable folders; returns
    # how many things are left (0: the next kernel starts as in a new sandbox).
    left = kill_others() + remove_ipc()
    copy_output(wait=True)
    return left + sum(empty(folder, mode) for folder, mode in FOLDERS.items())

def become_kernel(request):
    os.setsid()
    for number in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.close(REPLY)
    for number in (1, 2):  # a pipe to this process, not the grader's log file
        os.dup2(request["output"], number)
    os.close(request["output"])
    ctypes.CDLL(None).prctl(4, 1)  # dumpable again, as any kernel
    os.environ.clear()
    os.environ.update(ENV)
    os.environ.update(request["env"])
    os.chdir(request["work"])
    sys.path[0] = os.getcwd()  # as `python -m ipykernel_launcher` puts its working folder first
    sys.argv = ["ipykernel_launcher", *request["argv"]]
    numpy.random.seed()  # a fresh process seeds numpy's global generator from the system
    from ipykernel import kernelapp
    kernelapp.launch_new_instance()

def start(request):
    global kernel, output
    left = stop()
    if left:
        return reply(error=f"{left} processes, IPC objects or files of the last kernel could not be removed")
    if request["files"]:
        shutil.copytree(request["files"], request["work"], symlinks=True, dirs_exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    output, request["output"] = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(output)
        code = 1
        try:
            become_kernel(request)
            code = 0
        except SystemExit as end:
            code = end.code if isinstance(end.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(request["output"])
    kernel = pid
    reply(started=pid)

def serve(line):
    try:
        request = json.loads(line)
        if "start" in request:
            start(request["start"])
        elif "stop" in request:
            reply(stopped=stop())
    except Exception as error:
        reply(error=f"{type(error).__name__}: {error}"[:1000])

reply(ready=ME)
pending = b""
while True:
    ready = select.select([0] if output is None else [0, output], [], [], 0.05)[0]
    reap()
    copy_output(wait=False)
    if 0 not in ready:
        continue
    chunk = os.read(0, 65536)
    if not chunk:  # the grader closed the pipe: the sandbox ends
        stop()
        os._exit(0)
    *lines, pending = (pending + chunk).split(b"\n")
    for line in lines:
        serve(line)
"""


class ZygoteError(RuntimeError):
    """The zygote did not answer as it should: the sandbox is ended, the next chapter gets a new one."""


class Zygote:
    """The grader's side of a running `ZYGOTE`: its process (bubblewrap's), its pipes, the
    kernel it forked last."""

    def __init__(self, command: list[str], log: Path, cwd: Path, env: dict[str, str]):
        reader, writer = os.pipe()
        try:
            with open(log, "ab") as output:
                self.process = subprocess.Popen(
                    [*command, "-c", ZYGOTE, str(writer)],
                    stdin=subprocess.PIPE,
                    stdout=output,
                    stderr=output,
                    cwd=cwd,
                    env=env,
                    pass_fds=(writer,),
                )
        finally:
            os.close(writer)
        self._replies = reader
        os.set_blocking(reader, False)
        self._buffer = b""
        self._lock = threading.RLock()
        self.broken = ""  # why the zygote can no longer be used ("" while it can)
        self._clean = True  # nothing has run since the zygote started or last stopped everything
        self.kernel: ZygoteKernel | None = None
        try:
            self._expect("ready", READY_SECONDS)
        except ZygoteError:
            self.close()  # nothing of it is left behind
            raise

    def __deepcopy__(self, memo: dict) -> Zygote:
        return self  # a handle on a running process: nbgrader's configuration copies hold the same one

    # -- the pipe ---------------------------------------------------------------------------

    def _messages(self, timeout: float) -> list[dict[str, Any]]:
        """The replies that arrive within `timeout` seconds (at least those already there)."""
        if self.broken:
            return []
        if select.select([self._replies], [], [], max(0.0, timeout))[0]:
            try:
                chunk = os.read(self._replies, 65536)
            except BlockingIOError:  # woken for nothing
                chunk = None
            if chunk == b"":  # every end of the pipe that could write is closed: the zygote is gone
                self._fail("the zygote ended")
            self._buffer += chunk or b""
        lines = self._buffer.split(b"\n")
        self._buffer = lines.pop()
        if len(self._buffer) > MAX_REPLY:
            self._fail("the zygote sent a reply too long to read")
        found = []
        for line in lines:
            try:
                message = json.loads(line[:MAX_REPLY])
            except ValueError:
                self._fail("the zygote sent a reply that is not JSON")
                continue
            if isinstance(message, dict):
                found.append(message)
        for message in found:
            if "exited" in message and self.kernel is not None and message["exited"] == self.kernel.pid:
                status = message.get("status")
                self.kernel.returncode = status if isinstance(status, int) else -signal.SIGKILL
        return found

    def _expect(self, key: str, seconds: float) -> dict[str, Any]:
        """The next reply that holds `key`; raises `ZygoteError` on an error reply, a dead zygote
        or after `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.broken:
            for message in self._messages(min(0.1, deadline - time.monotonic())):
                if "error" in message:
                    self._fail(f"the zygote failed: {str(message['error'])[:300]}")
                elif key in message:
                    return message
        self._fail(self.broken or f"the zygote did not answer within {seconds:g} s")
        raise ZygoteError(self.broken)

    def _send(self, request: dict[str, Any]) -> None:
        try:
            assert self.process.stdin is not None
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except OSError as error:
            self._fail(f"the zygote cannot be reached: {error}")
            raise ZygoteError(self.broken) from None

    def _fail(self, why: str) -> None:
        if not self.broken:
            self.broken = why

    # -- requests ---------------------------------------------------------------------------

    def start_kernel(self, argv: list[str], env: dict[str, str], work: str, files: str) -> ZygoteKernel:
        """Forks a kernel `ipykernel_launcher argv` in `work` (emptied, then given `files`), with
        the environment `env`; returns it as a process object for jupyter_client."""
        with self._lock:
            if self.broken:
                raise ZygoteError(self.broken)
            self._send({"start": {"argv": argv, "env": env, "work": work, "files": files}})
            self.kernel, self._clean = None, False
            pid = self._expect("started", ANSWER_SECONDS)["started"]
            self.kernel = ZygoteKernel(self, int(pid))
            return self.kernel

    def stop(self) -> bool:
        """Kills every process of the sandbox but the zygote; False when the zygote did not
        say it did (the caller then ends the whole sandbox)."""
        with self._lock:
            if self.broken:
                return False
            if self._clean:  # nothing of a student's ran since: nothing to stop
                return True
            try:
                self._send({"stop": True})
                left = self._expect("stopped", ANSWER_SECONDS)["stopped"]
            except ZygoteError:
                return False
            if left:
                self._fail(f"{left} processes of the sandbox could not be stopped")
            if self.kernel is not None and self.kernel.returncode is None:
                self.kernel.returncode = -signal.SIGKILL
            self._clean = not left
            return not left

    def poll(self) -> None:
        """Reads the replies already there (a kernel's exit)."""
        with self._lock:
            self._messages(0)

    def kill(self, why: str) -> None:
        """Ends the whole sandbox now: bubblewrap's first process, whose death takes its PID
        namespace, every process of the sandbox, with it (`--die-with-parent`)."""
        self._fail(why)
        try:
            self.process.kill()
        except OSError:
            pass

    def close(self) -> None:
        """Ends the zygote (its sandbox's end kills whatever is left)."""
        self._fail("closed")
        try:
            self.process.stdin.close()  # the zygote stops everything and exits
        except (OSError, AttributeError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._replies)


class ZygoteKernel:
    """A kernel forked by the zygote, as jupyter_client's provisioner sees a process (`poll`,
    `wait`, `send_signal`, `kill`). `returncode` is the kernel's own exit code, or minus the
    signal that ended it."""

    exact_status = True  # the zygote saw the kernel's own status (no bubblewrap in between)

    def __init__(self, zygote: Zygote, pid: int):
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.zygote.poll()
            if self.returncode is None and self.zygote.broken:
                self.returncode = -signal.SIGKILL  # the zygote is gone: so is its sandbox
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("kernel", timeout or 0)
            time.sleep(0.02)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        """Interrupts go through the kernel's control channel; any other signal ends it (and
        every other process of the sandbox but the zygote)."""
        if signum != signal.SIGINT and self.poll() is None:
            self.zygote.stop()

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)
