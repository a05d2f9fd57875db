"""Adversarial submissions: what student code may not reach, and tests it may not tamper with.

- `snooped` (bubblewrap only; skipped with the reason when `bwrap` is missing or cannot create
  namespaces): one student's answer cell tries to read the solutions (`open`, `os.system("cat")`,
  `cp -r`), walks the file system for notebooks and gradebooks, reads another student's
  submission by its path, reads the grader's environment, and reaches the network (a local TCP
  server of this test, and pypi.org). None of it works, and the answer is still graded.
- `guarded` (any isolation): the hidden test cells only observe the answers and the grader judges
  the observations in its own process (`autograder.judge`). Answers that replace the observing code
  with no-ops before the tests, plant a fake `vaelab` package in the working folder, forge the
  observation sent while the test runs, send observations from other cells, read the reference
  answers from the sandbox's library, or call them: each earns nothing for its function, and the
  honest function of the same notebook keeps its points. The fixture `tests/fixtures/guarded`
  grades `log_normal` and `kl_normal` with Chapter 1's real checks.
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
WRONG_KL = """
def kl_normal(qm, qv, pm, pv):
    return (qm - pm).sum(-1)  # wrong
"""
PATCH_BEFORE = (
    """import importlib
_grading = importlib.import_module("vaelab.checks.grading")
_grading.observe = lambda check_id, fn: None
importlib.import_module("vaelab.checks.graded").check = lambda check_id: None
check_kl_normal = lambda kl_normal: None  # the visible check, in the notebook's namespace
"""
    + WRONG_KL
)
FAKE_PACKAGE = (
    """import os, sys
os.makedirs("vaelab/checks", exist_ok=True)
open("vaelab/__init__.py", "w").close()
open("vaelab/checks/__init__.py", "w").write("def check_kl_normal(fn):\\n    pass\\n")
with open("vaelab/checks/grading.py", "w") as file:
    file.write("def observe(check_id, fn):\\n    pass\\n")
for name in [n for n in sys.modules if n.startswith("vaelab.checks.grading")]:
    del sys.modules[name]
sys.path.insert(0, os.getcwd())
"""
    + WRONG_KL
)
#: Replaces the encoder of observations, from inside the answer, while the test runs: the
#: observation then claims values the answer never returned.
FORGE_DURING = """check_log_normal = lambda log_normal: None

def log_normal(x, m, v):
    import sys
    wire = sys.modules["vaelab.checks.wire"]
    honest = wire.encode
    def forged(check_id, obs, calls=None):
        for name, value in obs.values.items():
            obs.values[name] = value * 0 + 1.0
        return honest(check_id, obs, calls)
    wire.encode = forged
    grading = sys.modules["vaelab.checks.grading"]
    grading.encode = forged
    return (x - m).sum(-1)  # wrong
"""
#: Sends observations of its own from an ordinary cell and from the answer, with another
#: exercise's id and with garbage.
SEND_OTHERS = """from IPython.display import publish_display_data
MIME = "application/vnd.vaelab.observation+json"
publish_display_data({MIME: {"version": 1, "check": "01_vae/kl_normal"}})

def kl_normal(qm, qv, pm, pv):
    publish_display_data({MIME: {"version": 1, "check": "01_vae/kl_normal", "tensors": "all right"}})
    return (qm - pm).sum(-1)  # wrong
"""
READ_REFERENCE = (
    """import importlib.util, pathlib
import vaelab
_library = pathlib.Path(vaelab.__file__).parent
print("reference sources:", sorted(p.name for p in (_library / "reference").glob("*.py")))
print("hidden tests:", importlib.util.find_spec("autograder"))
print("stored expected values:", sorted(p.name for p in _library.rglob("*.pt")))
"""
    + WRONG_KL
)
CALL_REFERENCE = """from vaelab.reference import kl_normal as _kl_normal

def kl_normal(qm, qv, pm, pv):
    return _kl_normal(qm, qv, pm, pv)
"""
#: An observation the judge cannot build an array from (no data, dimensions beyond any tensor).
HUGE_DIMENSIONS = """from IPython.display import publish_display_data

def kl_normal(qm, qv, pm, pv):
    array = {"dtype": "float32", "shape": [0, 2**62, 2**62], "data": ""}
    tensors = {"values": {"x": array}, "samples": {}, "records": {}}
    observation = {"version": 1, "check": "01_vae/kl_normal", "inputs": "", "calls": {}, "tensors": tensors}
    publish_display_data({"application/vnd.vaelab.observation+json": observation})
    return (qm - pm).sum(-1)  # wrong
"""
#: A display message nested deeper than the grader's JSON decoder goes: the kernel is stopped.
NESTED = (
    """import sys
from IPython.display import publish_display_data
sys.setrecursionlimit(200000)
deep = []
for _ in range(50000):
    deep = [deep]
publish_display_data({"application/json": deep})
"""
    + WRONG_KL
)
ATTACKS = {
    "before": ("kl_normal", PATCH_BEFORE),
    "fake": ("kl_normal", FAKE_PACKAGE),
    "forge": ("log_normal", FORGE_DURING),
    "others": ("kl_normal", SEND_OTHERS),
    "reader": ("kl_normal", READ_REFERENCE),
    "caller": ("kl_normal", CALL_REFERENCE),
    "huge": ("kl_normal", HUGE_DIMENSIONS),
    "nested": ("kl_normal", NESTED),
}
POINTS = {"log_normal": "2", "kl_normal": "3"}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    work = tmp_path_factory.mktemp("guarded")
    source = testing.read_notebook(GUARDED / f"{GUARDED_CHAPTER}.ipynb")
    submissions = {"ref": {GUARDED_CHAPTER: testing.make_submission(source)}}
    for student, (function, answer) in ATTACKS.items():
        submissions[student] = {GUARDED_CHAPTER: testing.make_submission(source, {function: answer})}
    testing.write_submissions(work / "in", submissions)
    grades, cells, _ = testing.run_grade(work / "in", work / "out", GUARDED, timeout=120, options=("--jobs", "2"))
    return grades, cells, work / "out"


def test_the_judge_passes_correct_answers(guarded):
    grades, _, out = guarded
    row = grades["ref", GUARDED_CHAPTER]
    assert (row["status"], row["score"], row["message"]) == ("graded", "5", "")
    assert "kl_normal: the grader's checks passed" in testing.feedback(out, "ref", GUARDED_CHAPTER)


@pytest.mark.parametrize("student", list(ATTACKS))
def test_an_attack_earns_nothing_for_its_function_and_the_rest_is_graded(guarded, student):
    grades, cells, _ = guarded
    attacked, _ = ATTACKS[student]
    # the nested message stops the kernel in kl_normal's cell: the cells before it still count
    assert grades[student, GUARDED_CHAPTER]["status"] == ("crashed" if student == "nested" else "graded")
    for function, points in POINTS.items():
        score = cells[student, GUARDED_CHAPTER, f"test_{function}"]["score"]
        assert score == ("0" if function == attacked else points), (function, grades[student, GUARDED_CHAPTER])


def test_patching_the_observing_code_beforehand_is_undone_and_the_mistake_named(guarded):
    grades, _, out = guarded
    message = grades["before", GUARDED_CHAPTER]["message"]
    assert "tampering: restored before the tests: " in message
    assert "vaelab.checks.grading.observe" in message
    assert "AssertionError: kl_normal" in testing.feedback(out, "before", GUARDED_CHAPTER)


def test_a_fake_package_in_the_working_folder_sends_nothing_to_judge(guarded):
    _, _, out = guarded
    page = testing.feedback(out, "fake", GUARDED_CHAPTER)
    assert "AssertionError: kl_normal" in page or "no observation of this test reached the grader" in page


def test_a_forged_observation_earns_nothing(guarded):
    """The judge would find the forged values wrong; the guard, the second line, sees the patch first."""
    _, _, out = guarded
    page = testing.feedback(out, "forge", GUARDED_CHAPTER)
    assert "modified while this test ran (vaelab.checks.wire.encode" in page or "AssertionError: log_normal" in page


def test_observations_from_other_cells_or_of_another_form_count_for_nothing(guarded):
    _, _, out = guarded
    page = testing.feedback(out, "others", GUARDED_CHAPTER)
    assert "the grader could not read what this test sent" in page
    assert page.count("application/vnd.vaelab.observation+json") == 1  # in the source, never as an output


def test_the_sandbox_holds_neither_the_reference_nor_the_tests_nor_expected_values(guarded):
    _, _, out = guarded
    page = testing.feedback(out, "reader", GUARDED_CHAPTER)
    assert "reference sources: ['__init__.py']" in page
    assert "stored expected values: []" in page
    if sandbox.bwrap_works():  # with --isolation rlimits the grader's own files are not hidden
        assert "hidden tests: None" in page


def test_a_message_the_grader_cannot_read_stops_only_that_notebook(guarded):
    grades, _, out = guarded
    assert "nested too deeply for the grader to read" in grades["nested", GUARDED_CHAPTER]["message"]
    page = testing.feedback(out, "huge", GUARDED_CHAPTER)
    assert "the grader could not read what this test sent (an array shape" in page


def test_calling_the_reference_is_refused_and_says_why(guarded):
    _, _, out = guarded
    page = testing.feedback(out, "caller", GUARDED_CHAPTER)
    assert "kl_normal calls vaelab&#x27;s reference implementation" in page or (
        "kl_normal calls vaelab's reference implementation" in page
    )


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
