"""A student's chapters graded in one sandbox, each by a kernel forked from its zygote
(`autograder.zygote`, `Sandbox.open_shared`): what a chapter's kernel may see and leave behind.

Each test starts real kernels in a real bubblewrap sandbox, through the kernel manager that
grading uses, and reads what the kernel prints. Skipped where bubblewrap does not work.
"""

from __future__ import annotations

import asyncio
import json
import signal

import pytest

from autograder import library, sandbox, testing, zygote
from autograder.runner import StudentSandbox
from autograder.sandbox import Limits, Sandbox, SandboxedKernelManager

pytestmark = pytest.mark.skipif(not sandbox.bwrap_works(), reason="needs bubblewrap (bwrap) that can create namespaces")

LIMITS = Limits(timeout=60, notebook_timeout=300, memory_limit=2 << 30, max_output_bytes=1_000_000)

#: Kernel code: `_others()`, the processes of the sandbox but pid 1, the zygote and the kernel.
OTHERS = """
import json, os
def _others():
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me, os.getppid()):
            try:
                state = open(f"/proc/{name}/stat").read().rsplit(")", 1)[1].split()[0]
                found.append((int(name), state, open(f"/proc/{name}/cmdline", "rb").read()[:80].decode("latin-1")))
            except OSError:
                pass
    return found
"""
#: What a kernel reports about its sandbox, as one JSON line.
LOOK = (
    OTHERS
    + """
import vaelab.reference as _r
print(json.dumps({
    "reference": sorted(os.listdir(os.path.dirname(_r.__file__))),
    "tmp": sorted(os.listdir("/tmp")), "home": sorted(os.listdir(os.path.expanduser("~"))),
    "shm": sorted(os.listdir("/dev/shm")), "work": sorted(os.listdir(".")),
    "others": _others(), "chapter": os.environ.get("CHAPTER"), "path0": __import__("sys").path[0] == os.getcwd(),
}))
"""
)
#: Leaves files everywhere it may write and a daemon in a session of its own.
LITTER = """
import os, subprocess, sys
for path in ("/tmp/left", os.path.expanduser("~/left"), "/dev/shm/left", "left"):
    open(path, "w").write("x")
DAEMON = "import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    while True: time.sleep(0.1)"
subprocess.Popen([sys.executable, "-c", DAEMON])
import time; time.sleep(0.5)
"""


def run(box: Sandbox, code: str, chapter: str, timeout: float = 60) -> list[str]:
    """`code` run in a kernel of `box` for `chapter` (`CHAPTER` in its environment); then the
    chapter ends as grading ends it."""
    return testing.run_code(box, code, {"CHAPTER": chapter}, timeout)


def look(box: Sandbox, chapter: str) -> dict:
    lines = run(box, LOOK, chapter)
    return json.loads(next(line for line in lines if line.startswith("{")))


@pytest.fixture
def shared(tmp_path):
    with Sandbox.open_shared(tmp_path, LIMITS, "01_vae") as box:
        yield box


def test_each_chapter_gets_a_fresh_kernel_that_sees_only_the_earlier_references(shared):
    shared.next_chapter("01_vae")
    first = look(shared, "01_vae")
    assert first["reference"] == ["__init__.py"]
    assert first["chapter"] == "01_vae" and first["path0"]
    run(shared, LITTER, "01_vae")
    assert shared.broken == ""
    shared.next_chapter("03_iwae")
    third = look(shared, "03_iwae")
    assert third["reference"] == ["__init__.py", "ch01.py", "ch02.py"]
    assert third["chapter"] == "03_iwae"
    # nothing of the last chapter is left: no process, no file in any writable folder
    assert third["others"] == []
    assert first["tmp"] == third["tmp"] and first["home"] == third["home"] and first["shm"] == third["shm"] == []
    assert "left" not in third["work"] + third["tmp"] + third["home"]


def test_a_chapter_after_a_later_one_is_refused(shared):
    shared.next_chapter("02_gmvae")
    with pytest.raises(ValueError, match="ch01.py: it cannot grade 01_vae"):
        shared.next_chapter("01_vae")


def test_the_zygote_cannot_be_read_or_traced_by_a_kernel(shared):
    shared.next_chapter("01_vae")
    code = """
import os
zygote = os.getppid()
targets = [f"/proc/{zygote}/mem", f"/proc/{zygote}/environ"]
targets += [f"/proc/{zygote}/fd/{fd}" for fd in os.listdir(f"/proc/{zygote}/fd")]  # its pipes among them
for target in targets:
    try:
        open(target, "r+b").close()
        print(target, "opened")
    except OSError as error:
        print("refused", type(error).__name__)
"""
    printed = run(shared, code, "01_vae")
    assert len(printed) >= 5 and set(printed) == {"refused PermissionError"}


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_a_kernel_that_stops_the_zygote_ends_only_its_own_sandbox(tmp_path, monkeypatch, how):
    monkeypatch.setattr(zygote, "ANSWER_SECONDS", 3)
    with StudentSandbox("bwrap", LIMITS) as students:
        box = students.box("01_vae")
        run(box, f"import os, signal; os.kill(os.getppid(), signal.{how})", "01_vae")
        assert box.broken
        assert box.cgroup.pids() == set()  # the whole sandbox ended
        again = students.box("02_gmvae")
        assert again is not box and again.broken == ""
        assert look(again, "02_gmvae")["reference"] == ["__init__.py", "ch01.py"]


def test_an_exit_code_and_a_signal_reach_the_grader(shared):
    shared.next_chapter("01_vae")

    async def ended(code: str) -> tuple:
        manager = SandboxedKernelManager(**shared.kernel_settings())
        await manager.start_kernel()
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        client.execute(code)
        for _ in range(200):
            if not await manager.is_alive():
                break
            await asyncio.sleep(0.05)
        client.stop_channels()
        status = sandbox.exit_status(manager)
        await manager.shutdown_kernel(now=True)
        return status

    assert asyncio.run(ended("import os; os._exit(137)")) == (137, None)
    shared.end()
    assert asyncio.run(ended("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")) == (None, signal.SIGSEGV)
    shared.end()
    assert shared.broken == ""


def test_the_library_grows_in_chapter_order(tmp_path):
    lib = library.copy_library(tmp_path / "lib", "02_gmvae")
    reference = lib / library.INSTRUCTOR_ONLY
    assert sorted(p.name for p in reference.iterdir()) == ["__init__.py", "ch01.py"]
    library.extend_library(lib, "05_fsvae")
    assert sorted(p.name for p in reference.iterdir()) == ["__init__.py", *(f"ch0{n}.py" for n in range(1, 5))]
    assert all(not p.stat().st_mode & 0o222 for p in [reference, *reference.iterdir()])
    with pytest.raises(ValueError):
        library.extend_library(lib, "04_ssvae")
    library.make_writable(lib)


def test_no_shared_sandbox_without_bubblewrap_or_memory_for_the_zygote():
    assert StudentSandbox("rlimits", LIMITS).box("01_vae") is None
    small = Limits(60, 300, 256 << 20, 1_000_000)
    assert StudentSandbox("bwrap", small).box("01_vae") is None


def test_a_kernel_that_fills_the_graders_disk_ends_its_sandbox(tmp_path):
    code = "import os\nrun = os.path.dirname(os.getcwd())\nfor i in range(30000):\n    open(f'{run}/f{i}', 'w').close()"
    with StudentSandbox("bwrap", LIMITS) as students:
        box = students.box("01_vae")
        with pytest.raises(TimeoutError):  # the kernel was stopped in the middle of the cell
            run(box, code, "01_vae", timeout=15)
        assert box.broken.startswith("stopped") and "10000" in " ".join(box.limit_notes())
        assert students.box("02_gmvae") is not box


def test_what_a_kernel_prints_outside_the_notebook_reaches_the_log_of_its_chapter_only(shared):
    """The kernel's own stderr (ipykernel keeps a copy of it: what a crash in compiled code prints)
    goes through the zygote to the sandbox's log, for the instructor; each chapter's log shows only
    its own kernel's lines."""
    code = "import os, sys\nos.write(sys.stderr._original_stdstream_copy, b'marker of {}\\n')"
    shared.next_chapter("01_vae")
    run(shared, code.format("01_vae"), "01_vae")
    assert "marker of 01_vae" in shared.kernel_output()
    shared.next_chapter("02_gmvae")
    run(shared, code.format("02_gmvae"), "02_gmvae")
    assert "marker of 02_gmvae" in shared.kernel_output() and "01_vae" not in shared.kernel_output()
