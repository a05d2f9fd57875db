"""Attacks on a student's shared sandbox (`autograder.zygote`, `Sandbox.open_shared`) by a
student who writes every cell of their own chapters.

Each test runs the attack in real kernels forked by a real zygote, through the kernel manager
that grading uses, and asserts the SAFE outcome: it passes when the attack is stopped. An attack
that succeeds today is marked `xfail(strict=True)` with the mechanism, so that the test starts
to pass (and the mark must go) once the grader is fixed. Skipped where bubblewrap does not work.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from test_autograder_zygote import LIMITS, OTHERS, run  # a kernel of the sandbox, as grading starts one

from autograder import sandbox, zygote
from autograder.runner import StudentSandbox
from autograder.sandbox import Sandbox

pytestmark = pytest.mark.skipif(not sandbox.bwrap_works(), reason="needs bubblewrap (bwrap) that can create namespaces")

#: What the next chapter's kernel sees of the last one: its files, its processes.
LOOK = (
    OTHERS
    + """
def _tree(top):
    found = []
    for folder, folders, names in os.walk(top):
        found += [os.path.relpath(os.path.join(folder, n), top) for n in folders + names]
    return sorted(found)
print(json.dumps({
    "tmp": _tree("/tmp"), "home": _tree(os.path.expanduser("~")), "shm": _tree("/dev/shm"),
    "work": _tree("."), "others": _others(), "planted": globals().get("PLANTED"),
}))
"""
)


def look(box: Sandbox, chapter: str) -> dict:
    lines = run(box, LOOK, chapter)
    return json.loads(next(line for line in lines if line.startswith("{")))


def said(lines: list[str]) -> dict:
    """The JSON line a kernel printed."""
    return json.loads(next(line for line in lines if line.startswith("{")))


@pytest.fixture
def shared(tmp_path):
    with Sandbox.open_shared(tmp_path, LIMITS, "01_vae") as box:
        box.next_chapter("01_vae")
        yield box


# ---------------------------------------------------------------------------------------------
# Goal 3: state that outlives a chapter

#: Files in every folder the zygote wipes, each in a folder the kernel made read-only: the zygote
#: has no capability in the sandbox (no CAP_DAC_OVERRIDE), so it cannot unlink what is in it.
READ_ONLY_LITTER = """
import os
for top in ("/tmp", os.path.expanduser("~"), "/dev/shm", "."):
    os.makedirs(f"{top}/kept", exist_ok=True)
    open(f"{top}/kept/left", "w").write("from chapter 1")
    os.chmod(f"{top}/kept", 0o555)
print("planted")
"""


def test_files_in_a_read_only_folder_do_not_reach_the_next_chapter(shared):
    assert run(shared, READ_ONLY_LITTER, "01_vae") == ["planted"]
    assert shared.broken == ""
    shared.next_chapter("02_gmvae")
    seen = look(shared, "02_gmvae")
    assert [name for key in ("tmp", "home", "shm", "work") for name in seen[key] if "kept" in name] == []


#: An IPython start-up file in HOME, in a read-only folder: every kernel runs it when it starts,
#: before the grader installs its guard (`autograder.guard`) and before the first cell.
STARTUP = """
import os
startup = os.path.expanduser("~/.ipython/profile_default/startup")
os.makedirs(startup, exist_ok=True)
source = "PLANTED = 'ran before the first cell of ' + __import__('os').environ['CHAPTER']"
open(f"{startup}/00-planted.py", "w").write(source)
os.chmod(startup, 0o555)
print("planted")
"""


def test_an_earlier_chapter_cannot_plant_code_that_runs_when_the_next_kernel_starts(shared):
    assert run(shared, STARTUP, "01_vae") == ["planted"]
    shared.next_chapter("02_gmvae")
    assert look(shared, "02_gmvae")["planted"] is None


#: A System V shared memory segment: it belongs to the sandbox's IPC namespace, which lives as
#: long as the zygote, not to a process or a folder.
SYSV = """
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
KEY, SECRET = 0x5A6B7C, b"from the last chapter"
if CREATE:
    ident = libc.shmget(KEY, 4096, 0o1000 | 0o600)  # IPC_CREAT
    if ident >= 0:
        ctypes.memmove(libc.shmat(ident, None, 0), SECRET, len(SECRET))
else:
    ident = libc.shmget(KEY, 0, 0)
    found = ctypes.string_at(libc.shmat(ident, None, 0), len(SECRET)) if ident >= 0 else b""
    print(json.dumps({"read": found.decode("latin-1")}))
"""


def test_shared_memory_of_the_ipc_namespace_does_not_reach_the_next_chapter(shared):
    run(shared, "CREATE = True\n" + SYSV, "01_vae")
    shared.next_chapter("02_gmvae")
    assert said(run(shared, "CREATE = False\n" + SYSV, "02_gmvae"))["read"] != "from the last chapter"


#: A daemon in user and PID namespaces of its own (PID 1 there, which ignores the signals its
#: own namespace sends), in a session of its own, ignoring every signal it can.
NESTED = """
import ctypes, json, os, signal, time
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNS = 0x10000000, 0x20000000, 0x00020000
read, write = os.pipe()
if os.fork() == 0:
    os.close(read)
    done = libc.unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS)
    lib_writable = False
    if done == 0:
        open("/proc/self/setgroups", "w").write("deny")
        open("/proc/self/uid_map", "w").write(f"0 {os.getuid()} 1")
        lib = os.environ["PYTHONPATH"]
        # MS_REMOUNT | MS_BIND without MS_RDONLY: LIB writable again in this mount namespace?
        lib_writable = libc.mount(None, lib.encode(), None, 0x20 | 0x1000, None) == 0
        if os.fork() == 0:
            os.setsid()
            for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(number, signal.SIG_IGN)
            while True:
                time.sleep(0.05)
    os.write(write, json.dumps({"unshared": done == 0, "lib_writable": lib_writable}).encode())
    os._exit(0)
os.close(write)
print(os.read(read, 1000).decode())
time.sleep(0.3)
"""


def test_a_daemon_in_nested_user_and_pid_namespaces_dies_with_its_chapter(shared):
    attempt = said(run(shared, NESTED, "01_vae"))
    assert not attempt["lib_writable"]
    assert shared.broken == ""  # the zygote said it stopped everything ...
    assert shared.cgroup.pids() <= shared._own  # ... and the cgroup agrees
    shared.next_chapter("02_gmvae")
    assert look(shared, "02_gmvae")["others"] == []


# ---------------------------------------------------------------------------------------------
# Goals 2 and 4: the grader's side


@pytest.mark.parametrize(
    "attack",
    [
        "os.kill(os.getppid(), signal.SIGINT)",  # the zygote is plain Python: KeyboardInterrupt
        "os.kill(os.getppid(), signal.SIGTSTP)",
        "os.kill(1, signal.SIGKILL); os.kill(1, signal.SIGTERM)",  # bubblewrap's init
    ],
)
def test_signals_to_the_zygote_or_to_pid_1_end_only_this_sandbox(monkeypatch, attack):
    monkeypatch.setattr(zygote, "ANSWER_SECONDS", 3)
    code = "import os, signal, subprocess, sys, time\n"
    code += "subprocess.Popen([sys.executable, '-c', 'import os, time\\nos.setsid()\\ntime.sleep(600)'])\n"
    code += attack + "\ntime.sleep(0.3)\nprint('done')"
    with StudentSandbox("bwrap", LIMITS) as students:
        box = students.box("01_vae")
        run(box, code, "01_vae")
        assert box.cgroup.pids() <= box._own  # nothing of the chapter is left, whatever the zygote's state
        again = students.box("02_gmvae")
        seen = look(again, "02_gmvae")
        assert seen["others"] == [] and again.broken == ""


#: A folder 1500 levels deep in RUN, the one folder of the grader's disk the kernel may write:
#: 1500 entries, far below DiskWatch's limit, but deeper than Python's recursion limit.
DEEP = """
import os
fd = os.open(os.path.dirname(os.getcwd()), os.O_RDONLY)
for _ in range(1500):
    os.mkdir("d", dir_fd=fd)
    deeper = os.open("d", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = deeper
print("deep")
"""


def test_a_deep_folder_in_run_does_not_stop_the_next_chapter():
    with StudentSandbox("bwrap", LIMITS) as students:
        box = students.box("01_vae")
        try:
            assert run(box, DEEP, "01_vae") == ["deep"]
            again = students.box("02_gmvae")
            assert look(again, "02_gmvae")["others"] == []
        finally:
            subprocess.run(["rm", "-rf", str(box.run / "d")], check=False)


#: Every descriptor of the kernel whose file is not in the sandbox's file system, reopened.
REOPEN = """
import json, os
found = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        continue
    if target.startswith("/") and not os.path.exists(target):
        try:
            with open(f"/proc/self/fd/{fd}", "rb") as handle:
                found[target] = handle.read()[-20000:].decode("latin-1")
        except OSError as error:
            found[target] = type(error).__name__
print(json.dumps(found))
"""


#: Writes a line on the kernel's own stderr, the descriptor ipykernel keeps (the kernel's fd 1
#: and 2 are ipykernel's capture pipes), which is what a crash in compiled code would print.
LOG_MARKER = """
import os
for fd in os.listdir("/proc/self/fd"):
    if os.path.realpath(f"/proc/self/fd/{fd}").endswith("kernel.log"):
        os.write(int(fd), b"chapter-1-marker\\n")
"""


def test_a_kernel_cannot_reopen_the_graders_log(shared):
    run(shared, LOG_MARKER, "01_vae")
    shared.next_chapter("02_gmvae")
    reopened = said(run(shared, REOPEN, "02_gmvae"))
    assert not any("chapter-1-marker" in text for text in reopened.values()), reopened


def test_the_zygote_reply_pipe_is_out_of_reach_and_a_flood_of_output_is_harmless(shared):
    """The kernel cannot write the zygote's reply pipe (closed in the kernel, the zygote not
    dumpable: its /proc/PID/fd cannot be opened); a kernel that floods its stdout (the log)
    does not disturb the replies."""
    code = """
import os
zygote, reached = os.getppid(), []
for fd in os.listdir(f"/proc/{zygote}/fd"):
    try:
        os.write(os.open(f"/proc/{zygote}/fd/{fd}", os.O_WRONLY), b'{"started": 1}\\n')
        reached.append(f"zygote {fd}")
    except OSError:
        pass
print("reached", reached, flush=True)
os.write(1, b"x" * (1 << 20))
"""
    printed = run(shared, code, "01_vae")
    assert shared.broken == ""
    # no descriptor of the zygote could be opened
    assert [line for line in printed if line.startswith("reached")] == ["reached []"]
    shared.next_chapter("02_gmvae")
    assert look(shared, "02_gmvae")["others"] == [] and shared.broken == ""
