"""Adversarial submissions against the sandbox's limits: each must be stopped, with the right
status, the honest part of the notebook still graded, the classmates and the machine unaffected.

Every attack sits in the answer cell of `add` of the toy chapter, before a correct `add`, so a
submission whose attack is stopped without killing its kernel still scores 5. The grader runs
with small limits (256 MiB of memory, 64 processes, 64 MiB per tmpfs, 20 s per cell):

- `limited` (bubblewrap and cgroups): a fork bomb, three children of 150 MiB each, a memfd of
  400 MiB, /dev/shm filled, the working folder filled, 100k tiny files, a double-forked daemon
  that keeps trying to forge the results, logs and feedback, and a symbolic link and a FIFO where
  the kernel's log used to be;
- `weak` (`--isolation rlimits`, the instructor's explicit choice): a daemon that forges the
  result and the log (which it can reach there), and a log replaced by a link to /etc/passwd or
  by a FIFO: the daemon is dead before the grader writes anything, and the log is read without
  following links or blocking.

Skipped, saying why, where bubblewrap or the cgroups are missing (CI without them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import sandbox, testing
from autograder.cgroups import Cgroup, kill_marked

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "fixtures" / "toy" / "solutions"
ADD = "\ndef add(a, b):\n    return a + b\n"
LIMITS = ("--memory-limit", "256M", "--max-processes", "64", "--disk-limit", "64M", "--notebook-timeout", "60")
#: In the command line of the daemons (and only there), built at run time.
TOKEN = "daemon" + "-7c1e"


def _cgroups_work() -> bool:
    group = Cgroup.create(256 << 20, 64)
    try:
        return set(group.held) == {"memory", "pids"}
    finally:
        group.remove()


HAVE_CGROUPS = _cgroups_work()
needs_sandbox = pytest.mark.skipif(
    not (sandbox.bwrap_works() and HAVE_CGROUPS),
    reason="needs bubblewrap and writable memory and pids cgroups (v1 or v2): without them the "
    "whole-sandbox limits cannot hold (the log says which held)",
)

FORK_BOMB = """import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            while True:  # every child forks too, and never gives up
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.05)
        children += 1
except OSError as error:
    print("fork refused after", children, "children:", type(error).__name__)
"""
CHILDREN = """import subprocess, sys
hog = "b = b'x' * (150 << 20); import time; time.sleep(5)"
procs = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(3)]
print("children exit codes", [p.wait() for p in procs])
"""
MEMFD = """import os
fd = os.memfd_create("hog")
for _ in range(25):
    os.write(fd, b"x" * (16 << 20))
print("memfd of", 25 * 16, "MiB written")
"""
FILL = """written = 0
try:
    with open({path!r}, "wb") as file:
        for _ in range(64):
            file.write(b"x" * (16 << 20))
            written += 16
except OSError as error:
    print("fill stopped after", written, "MiB:", error.strerror)
"""
MANY_FILES = """import os
os.mkdir("many")
made = 0
try:
    for made in range(100_000):
        with open(f"many/{made}", "w") as file:
            file.write("x")
except OSError as error:
    print("files stopped at", made, error.strerror)
"""
#: Fills RUN, the kernel's folder on the grader's disk (the parent of its working folder), with
#: files of 16 MiB: only the disk watch can stop it (each file is under RLIMIT_FSIZE).
RUN_FILL = """import os
written = 0
run = os.path.dirname(os.getcwd())
for i in range(64):
    with open(os.path.join(run, f"hog{i}"), "wb") as file:
        file.write(b"x" * (16 << 20))
    written += 16
print("wrote", written, "MiB in RUN")
"""
RUN_FILES = """import os
run = os.path.dirname(os.getcwd())
os.mkdir(os.path.join(run, "many"))
for made in range(100_000):
    open(os.path.join(run, "many", str(made)), "w").close()
print("made", made + 1, "files in RUN")
"""
#: Double-forks, leaves the session, becomes a new process (TOKEN in its command line) that
#: keeps writing FORGED into every path it is given, for 20 s.
DAEMON = """import os, sys
targets = {targets!r}
code = '''import sys, time
mark = "FOR" + "GED"
for _ in range(100):
    for path in sys.argv[2:]:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as file:
                file.write('{{"status": "graded", "score": 99, "forged": "%s"}}' % mark)
        except OSError:
            pass
    time.sleep(0.2)
'''
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import os; " + code, {token!r}, *targets])
    os._exit(0)
os.wait()
print("daemon started")
"""
#: Replaces the kernel's log (where the grader used to read it, and where it reads it now) by a
#: link to /etc/passwd or /dev/zero, or by a FIFO.
LOG_TRAPS = """import os
for path in ("../kernel.log", "../../kernel.log"):
    try:
        os.unlink(path)
    except OSError:
        pass
    try:
        {trap}
    except OSError as error:
        print("trap", path, error.strerror)
print("traps set")
"""

#: Without bubblewrap the course library's copy is writable by the kernel's user: a file of it
#: replaced by a link to /dev/zero must not be read (the grader would read forever).
LIB_TRAP = """import os
target = os.path.join(os.environ["PYTHONPATH"], "vaelab", "__init__.py")
os.chmod(os.path.dirname(target), 0o755)
os.unlink(target)
os.symlink("/dev/zero", target)
print("library trapped")
"""


def _daemon_targets(out: Path, student: str) -> list[str]:
    return [
        str(out / "results" / student / "00_toy.json"),
        str(out / "logs" / student / "00_toy.log"),
        str(out / "feedback" / student / "00_toy.html"),
        str(out / "grades.csv"),
    ]


def _running_daemons() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and TOKEN.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def _cgroups_of(logs: dict[str, str]) -> list[Path]:
    """The cgroups that the runs' logs name (other graders on the machine may have their own)."""
    line = "cgroup (removed after the run): "
    named = [log.split(line, 1)[1].split("\n", 1)[0] for log in logs.values() if line in log]
    return [Path(f) for folders in named for f in folders.split() if f != "none"]


def _grade(work: Path, attacks: dict[str, str], options: tuple[str, ...]) -> dict:
    source = testing.read_notebook(TOY / "00_toy.ipynb")
    submissions = {
        name: {"00_toy": testing.make_submission(source, {"add": code + ADD})} for name, code in attacks.items()
    }
    submissions["ref"] = {"00_toy": testing.make_submission(source)}
    testing.write_submissions(work / "in", submissions)
    grades, _, printed = testing.run_grade(work / "in", work / "out", TOY, timeout=20, options=options)
    time.sleep(1.5)  # a daemon that survived would have written by now
    pages = {name: testing.feedback(work / "out", name, "00_toy") for name in submissions}
    logs = {name: (work / "out" / "logs" / name / "00_toy.log").read_text() for name in submissions}
    forged = [str(p) for p in (work / "out").rglob("*") if p.is_file() and "FORGED" in p.read_text(errors="replace")]
    used = _cgroups_of(logs)
    leftovers = {p for p in used if p.exists()}
    return {
        "out": work / "out",
        "grades": grades,
        "pages": pages,
        "logs": logs,
        "printed": printed,
        "forged": forged,
        "left": leftovers,
        "used": used,
    }


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    work = tmp_path_factory.mktemp("limits")
    out = work / "out"
    attacks = {
        "bomb": FORK_BOMB,
        "children": CHILDREN,
        "memfd": MEMFD,
        "shm": FILL.format(path="/dev/shm/hog"),
        "disk": FILL.format(path="hog"),
        "files": MANY_FILES,
        "rundisk": RUN_FILL,
        "runfiles": RUN_FILES,
        "daemon": DAEMON.format(targets=_daemon_targets(out, "daemon") + _daemon_targets(out, "ref"), token=TOKEN),
        "link": LOG_TRAPS.format(trap='os.symlink("/etc/passwd", path); os.symlink("/dev/zero", path + ".z")'),
        "fifo": LOG_TRAPS.format(trap="os.mkfifo(path)"),
    }
    return _grade(work, attacks, ("--isolation", "bwrap", "--jobs", "2", *LIMITS))


def _row(run: dict, name: str) -> tuple[str, str]:
    row = run["grades"][name, "00_toy"]
    return row["status"], row["score"]


@needs_sandbox
def test_a_fork_bomb_meets_the_process_limit(limited):
    assert _row(limited, "bomb") == ("graded", "5"), limited["grades"]["bomb", "00_toy"]["message"]
    assert "fork refused after" in limited["pages"]["bomb"]
    assert "reached its limit of 64 processes" in limited["grades"]["bomb", "00_toy"]["message"]


@needs_sandbox
@pytest.mark.parametrize("name", ["children", "memfd"])
def test_memory_of_all_processes_together_is_capped(limited, name):
    row = limited["grades"][name, "00_toy"]
    assert row["status"] == "memory", row["message"]
    assert "reached its memory limit (0.25 GiB, all processes together)" in row["message"]
    assert "memfd of 400 MiB written" not in limited["pages"][name]


@needs_sandbox
@pytest.mark.parametrize("name", ["shm", "disk"])
def test_filling_a_tmpfs_stops_at_its_size(limited, name):
    assert _row(limited, name) == ("graded", "5")
    page = limited["pages"][name]
    assert "No space left on device" in page
    written = int(page.split("fill stopped after ")[1].split()[0])
    assert written <= 64  # --disk-limit 64M, not the host's disk
    assert not Path("/dev/shm/hog").exists()  # the sandbox's /dev/shm, not the machine's


@needs_sandbox
@pytest.mark.parametrize(
    "name,reason", [("rundisk", "MiB in the kernel's folder"), ("runfiles", "more than 10000 files")]
)
def test_the_kernels_folder_on_the_grader_s_disk_is_watched(limited, name, reason):
    row = limited["grades"][name, "00_toy"]
    assert row["status"] == "crashed", row["message"]
    assert "disk: the sandbox was stopped: " in row["message"] and reason in row["message"]
    page = limited["pages"][name]
    assert "wrote 1024 MiB" not in page and "made 100000 files" not in page
    if name == "rundisk":
        stopped = int(row["message"].split("disk: the sandbox was stopped: ")[1].split()[0])
        assert stopped < 1024  # stopped long before the 1 GiB it tried to write


@needs_sandbox
def test_a_hundred_thousand_files_do_not_fit(limited):
    assert _row(limited, "files") == ("graded", "5")
    page = limited["pages"]["files"]
    made = int(page.split("files stopped at ")[1].split()[0])
    assert made < 100_000 and "No space left on device" in page


@needs_sandbox
def test_a_daemon_dies_with_the_sandbox_and_forges_nothing(limited):
    assert "daemon started" in limited["pages"]["daemon"]
    assert _row(limited, "daemon") == ("graded", "5")
    assert _row(limited, "ref") == ("graded", "5")
    assert limited["forged"] == []
    assert _running_daemons() == []
    for path in (limited["out"] / "results").rglob("*.json"):
        assert json.loads(path.read_text()).get("forged") is None


@needs_sandbox
@pytest.mark.parametrize("name", ["link", "fifo"])
def test_a_trap_at_the_logs_path_is_not_read(limited, name):
    assert _row(limited, name) == ("graded", "5")
    assert "traps set" in limited["pages"][name]
    assert "root:x:0:0" not in limited["logs"][name]
    assert "limits that held: memory: 0.25 GiB for all processes together (cgroup v" in limited["logs"][name]


@needs_sandbox
def test_nothing_of_the_sandboxes_is_left(limited):
    assert limited["left"] == set()
    assert len(limited["used"]) >= len(limited["logs"])  # every run had its cgroup (v1: memory and pids)
    assert _row(limited, "ref") == ("graded", "5")
    assert "64 processes and threads (cgroup pids.max)" in limited["logs"]["ref"]
    assert "tmpfs of 0.0625 GiB each" in limited["logs"]["ref"]


@pytest.fixture(scope="module")
def weak(tmp_path_factory):
    work = tmp_path_factory.mktemp("weak")
    out = work / "out"
    attacks = {
        "daemon": DAEMON.format(targets=_daemon_targets(out, "daemon") + _daemon_targets(out, "ref"), token=TOKEN),
        "link": LOG_TRAPS.format(trap='os.symlink("/etc/passwd", path)'),
        "zero": LOG_TRAPS.format(trap='os.symlink("/dev/zero", path)'),
        "fifo": LOG_TRAPS.format(trap="os.mkfifo(path)"),
        "lib": LIB_TRAP,
    }
    return _grade(work, attacks, ("--isolation", "rlimits", "--jobs", "2", "--memory-limit", "2G"))


def test_without_bubblewrap_a_daemon_cannot_rewrite_the_result(weak):
    assert "daemon started" in weak["pages"]["daemon"]
    assert _row(weak, "daemon") == ("graded", "5")
    assert weak["forged"] == []
    assert _running_daemons() == []
    assert "NOT isolated" in weak["pages"]["daemon"]  # the feedback says the isolation was weaker


def test_without_bubblewrap_a_link_planted_in_the_library_is_tampering_not_a_read(weak):
    assert "library trapped" in weak["pages"]["lib"]
    row = weak["grades"]["lib", "00_toy"]
    assert (row["status"], row["score"]) == ("graded", "0")
    assert "tampering: the notebook modified the course library" in row["message"]


@pytest.mark.parametrize("name", ["link", "zero", "fifo"])
def test_without_bubblewrap_the_log_is_read_without_following_links(weak, name):
    assert "traps set" in weak["pages"][name]
    assert _row(weak, name) == ("graded", "5")
    assert "root:x:0:0" not in weak["logs"][name]
    assert len(weak["logs"][name]) < 200_000


def test_the_log_is_read_bounded_and_only_from_regular_files(tmp_path):
    (tmp_path / "big").write_bytes(b"a" * 100_000 + b"END")
    assert sandbox.read_tail(tmp_path / "big", 10) == "aaaaaaaEND"
    (tmp_path / "link").symlink_to(tmp_path / "big")
    os.mkfifo(tmp_path / "fifo")  # no writer: a blocking open would hang
    (tmp_path / "zero").symlink_to("/dev/zero")
    for name in ("link", "fifo", "zero", "missing"):
        assert sandbox.read_tail(tmp_path / name, 10) == ""
    assert sandbox.read_tail(Path("/dev/zero"), 10) == ""  # a device, not a regular file


def test_without_a_cgroup_a_daemon_that_left_the_session_is_still_found_and_killed(tmp_path):
    marker = f"test-{os.getpid()}"
    pid_file = tmp_path / "pid"
    daemon = (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
    )
    env = {**os.environ, "AUTOGRADER_SANDBOX": marker}
    subprocess.run([sys.executable, "-c", daemon], env=env, check=True, timeout=30)
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    assert os.getsid(pid) != os.getsid(0)  # a session of its own: killing the kernel's group misses it
    assert kill_marked(marker, 0) >= 1
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
            break
        time.sleep(0.05)
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() else "gone"
    assert state in ("Z", "gone")
    assert kill_marked("another-marker", 0) == 0
