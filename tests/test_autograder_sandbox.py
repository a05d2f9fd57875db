"""Adversarial submissions: what student code may not reach, and tests it may not tamper with.

- `snooped` (bubblewrap only; skipped with the reason when `bwrap` is missing or cannot create
  namespaces): one student's answer cell tries to read the solutions (`open`, `os.system("cat")`,
  `cp -r`), walks the file system for notebooks and gradebooks, reads another student's
  submission by its path, reads the grader's environment, and reaches the network (a local TCP
  server of this test, and pypi.org). None of it works, and the answer is still graded.
- `guarded` (any isolation): answers that replace `autograder.hidden.ch01.test_kl_normal` and
  `vaelab.reference.checks.check_against_reference` with no-ops before the tests, plant a fake
  `autograder` package in the working folder, or patch the checks from inside the function while
  the test runs. The first two are undone before the test cells run (the real tests run and fail
  the wrong answers); the last is caught after the test (no points). The fixture
  `tests/fixtures/guarded` grades `log_normal` and `kl_normal` with Chapter 1's real hidden tests.
- `fallback`: without bubblewrap, `grade` refuses to run (`auto` included) unless the instructor
  chooses `--isolation rlimits`; then the limits still hold and the log and the feedback say that
  the file system and the network are not isolated.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from autograder import sandbox, testing
from autograder.cli import main

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "fixtures" / "toy" / "solutions"
GUARDED = REPO / "tests" / "fixtures" / "guarded" / "solutions"
SECRET = "VICTIM-SECRET-7f3a"  # in another student's notebook
ENV_SECRET = "GRADER-TOKEN-91c2"  # in the grader's environment

needs_bwrap = pytest.mark.skipif(
    not sandbox.bwrap_works(),
    reason="bubblewrap (bwrap) is missing or cannot create namespaces here: "
    "apt-get install bubblewrap (.ci/run installs it)",
)

#: Every marker is built at run time, so that a page that shows it shows an output, not the
#: source; the paths are hex-encoded for the same reason.
SNOOP = """def add(a, b):
    return a + b

import os, socket
mark, blocked = "LE" + "AK", "block" + "ed"
for path in [bytes.fromhex(h).decode() for h in {paths!r}]:
    try:
        print(mark, "read", open(path).read())
    except Exception as error:
        print(blocked, "read", type(error).__name__)
os.system("cat {toy}/00_toy.ipynb; cp -r {toy} /tmp/copy && echo LE''AK copied")
print(mark + " env" if any(bytes.fromhex("{env}").decode() in v for v in os.environ.values())
      else "clean env")
for host, port in (("127.0.0.1", {port}), ("pypi.org", 443)):
    try:
        socket.create_connection((host, port), timeout=2).sendall(b"x")
        print(mark, "network", host)
    except OSError as error:
        print(blocked, "network", host, error)
skip = ("/proc", "/sys", "/dev", "/usr", *{prefixes!r})
found = []
for folder, subfolders, files in os.walk("/"):
    subfolders[:] = [s for s in subfolders if not os.path.join(folder, s).startswith(skip)]
    found += [os.path.join(folder, f) for f in files if f.endswith((".ipynb", ".db", ".json"))]
print("found", "files:", found)
"""


@pytest.fixture(scope="module")
def snooped(tmp_path_factory):
    work = tmp_path_factory.mktemp("snoop")
    source = testing.read_notebook(TOY / "00_toy.ipynb")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0)
    inputs = work / "in"
    victim = testing.make_submission(source, {"add": f"# {SECRET}\ndef add(a, b):\n    return a + b"})
    paths = [
        TOY / "00_toy.ipynb",
        REPO / "solutions" / "01_vae.ipynb",
        inputs / "victim" / "00_toy.ipynb",
        REPO / "autograder" / "grade.py",
    ]
    snoop = SNOOP.format(
        paths=[str(p).encode().hex() for p in paths],
        toy=TOY,
        env=ENV_SECRET.encode().hex(),
        port=server.getsockname()[1],
        prefixes=tuple(sorted({sandbox.sys.prefix, sandbox.sys.base_prefix})),
    )
    testing.write_submissions(
        inputs, {"victim": {"00_toy": victim}, "snoop": {"00_toy": testing.make_submission(source, {"add": snoop})}}
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOGRADER_TEST_TOKEN", ENV_SECRET)
        grades, _, printed = testing.run_grade(inputs, work / "out", TOY, timeout=60, options=("--isolation", "bwrap"))
    try:
        server.accept()
        connected = True
    except BlockingIOError:
        connected = False
    finally:
        server.close()
    return {
        "grades": grades,
        "printed": printed,
        "connected": connected,
        "page": testing.feedback(work / "out", "snoop", "00_toy"),
    }


@needs_bwrap
def test_student_code_cannot_read_solutions_submissions_or_the_grader(snooped):
    page = snooped["page"]
    row = snooped["grades"]["snoop", "00_toy"]
    assert (row["status"], row["score"]) == ("graded", "5"), row["message"]
    assert page.count("blocked read") == 4  # the solutions, a classmate, the grader's code
    assert "LEAK" not in page  # no read, no copy, no environment variable, no connection
    for secret in (SECRET, "BEGIN SOLUTION", "gradebook", "victim"):
        assert secret not in page, secret
    assert "No such file or directory" in page  # `cat` and `cp` of the solutions found nothing
    assert "clean env" in page and "found files:" in page
    assert "bubblewrap sandbox" in page  # the feedback says which isolation was used


@needs_bwrap
def test_student_code_has_no_network(snooped):
    assert not snooped["connected"]  # the test's own server on the grader's loopback
    assert snooped["page"].count("blocked network") == 2
    assert "LEAK" not in snooped["page"]


GUARDED_CHAPTER = "00_guarded"
PATCH_BEFORE = """import importlib
_hidden = importlib.import_module("autograder.hidden.ch01")
_hidden.test_kl_normal = lambda kl_normal: None
_hidden.check_against_reference = lambda *args, **kwargs: None
importlib.import_module("vaelab.reference.checks").check_against_reference = lambda *args, **kwargs: None
check_kl_normal = lambda kl_normal: None  # the visible check, in the notebook's namespace

def kl_normal(qm, qv, pm, pv):
    return (qm - pm).sum(-1)  # wrong
"""
PATCH_DURING = """check_log_normal = lambda log_normal: None

def log_normal(x, m, v):
    import sys
    for module in list(sys.modules.values()):  # runs inside the hidden test
        if getattr(module, "check_against_reference", None) is not None:
            module.check_against_reference = lambda *args, **kwargs: None
    return (x - m).sum(-1)  # wrong
"""
FAKE_PACKAGE = """import os, sys
os.makedirs("autograder/hidden", exist_ok=True)
open("autograder/__init__.py", "w").close()
open("autograder/hidden/__init__.py", "w").close()
with open("autograder/hidden/ch01.py", "w") as file:
    file.write("def test_kl_normal(kl_normal):\\n    pass\\n")
for name in [n for n in sys.modules if n.startswith("autograder")]:
    del sys.modules[name]
sys.path.insert(0, os.getcwd())
check_kl_normal = lambda kl_normal: None

def kl_normal(qm, qv, pm, pv):
    return (qm - pm).sum(-1)  # wrong
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    work = tmp_path_factory.mktemp("guarded")
    source = testing.read_notebook(GUARDED / f"{GUARDED_CHAPTER}.ipynb")
    testing.write_submissions(
        work / "in",
        {
            "ref": {GUARDED_CHAPTER: testing.make_submission(source)},
            "before": {GUARDED_CHAPTER: testing.make_submission(source, {"kl_normal": PATCH_BEFORE})},
            "during": {GUARDED_CHAPTER: testing.make_submission(source, {"log_normal": PATCH_DURING})},
            "fake": {GUARDED_CHAPTER: testing.make_submission(source, {"kl_normal": FAKE_PACKAGE})},
        },
    )
    grades, cells, _ = testing.run_grade(work / "in", work / "out", GUARDED, timeout=120, options=("--jobs", "2"))
    return grades, cells, work / "out"


def test_the_guard_leaves_correct_answers_alone(guarded):
    grades, _, _ = guarded
    row = grades["ref", GUARDED_CHAPTER]
    assert (row["status"], row["score"], row["message"]) == ("graded", "5", "")


def test_patching_the_tests_beforehand_is_undone(guarded):
    grades, cells, out = guarded
    row = grades["before", GUARDED_CHAPTER]
    assert cells["before", GUARDED_CHAPTER, "test_kl_normal"]["score"] == "0"
    assert cells["before", GUARDED_CHAPTER, "test_log_normal"]["score"] == "2"
    assert "tampering: restored before the tests: " in row["message"]
    for name in ("autograder.hidden.ch01.test_kl_normal", "vaelab.reference.checks.check_against_reference"):
        assert name in row["message"]
    # the real hidden test ran and named the mistake
    assert "CheckFailed: kl_normal" in testing.feedback(out, "before", GUARDED_CHAPTER)


def test_a_fake_test_package_in_the_working_folder_is_not_imported(guarded):
    grades, cells, out = guarded
    assert cells["fake", GUARDED_CHAPTER, "test_kl_normal"]["score"] == "0"
    assert "sys.modules['autograder.hidden.ch01']" in grades["fake", GUARDED_CHAPTER]["message"]
    assert "CheckFailed: kl_normal" in testing.feedback(out, "fake", GUARDED_CHAPTER)


def test_patching_the_checks_while_the_test_runs_earns_nothing(guarded):
    grades, cells, out = guarded
    assert cells["during", GUARDED_CHAPTER, "test_log_normal"]["score"] == "0"
    message = grades["during", GUARDED_CHAPTER]["message"]
    assert "changed while test_log_normal ran: no points for it" in message
    assert "review: log_normal uses sys.modules" in message
    assert "TamperingError" in testing.feedback(out, "during", GUARDED_CHAPTER)


def test_without_bubblewrap_the_limits_hold_and_the_feedback_says_so(tmp_path):
    source = testing.read_notebook(TOY / "00_toy.ipynb")
    testing.write_submissions(
        tmp_path / "in",
        {
            "ref": {"00_toy": testing.make_submission(source)},
            "bomb": {"00_toy": testing.make_submission(source, {"add": "hog = bytearray(3 * 2**30)"})},
        },
    )
    grades, _, printed = testing.run_grade(
        tmp_path / "in",
        tmp_path / "out",
        TOY,
        timeout=60,
        options=("--isolation", "rlimits", "--memory-limit", "2G", "--jobs", "2"),
    )
    assert grades["ref", "00_toy"]["score"] == "5"
    assert grades["bomb", "00_toy"]["status"] == "memory"
    assert "NOT isolated" in printed
    assert "NOT isolated" in testing.feedback(tmp_path / "out", "ref", "00_toy")
    assert "isolation: rlimits" in (tmp_path / "out" / "logs" / "ref" / "00_toy.log").read_text()


@pytest.mark.parametrize("isolation", ["auto", "bwrap"])
def test_without_bubblewrap_grading_refuses_to_run_unless_rlimits_is_chosen(isolation, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "bwrap_works", lambda: False)
    with pytest.raises(RuntimeError, match="refusing to grade"):
        sandbox.resolve(isolation)
    assert sandbox.resolve("rlimits") == "rlimits"  # the instructor's explicit choice
    (tmp_path / "in" / "ada").mkdir(parents=True)
    (tmp_path / "in" / "ada" / "00_toy.ipynb").write_text("{}")
    args = ["grade", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--solutions", str(TOY)]
    assert main([*args, "--isolation", isolation]) == 2
    error = capsys.readouterr().err
    assert "refusing to grade" in error and "apt-get install bubblewrap" in error and "--isolation rlimits" in error
    assert not (tmp_path / "out" / "grades.csv").exists()  # nothing graded, not even weakly
