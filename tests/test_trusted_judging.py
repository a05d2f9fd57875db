"""Trusted judging, without a kernel: what crosses from the sandbox (`vaelab.checks.wire`), what the
sandbox holds (`autograder.library.sandbox_files`), and the grader's judge (`autograder.judge`).

The end-to-end attacks (forged, missing and foreign observations in a graded notebook) are in
`tests/test_autograder_sandbox.py`, with the other defences of the grader.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from autograder import judge, library
from autograder.execute import OBSERVATION
from vaelab import reference
from vaelab.chapters import EXERCISES
from vaelab.checks import wire
from vaelab.checks.graded import GRADING_OFFSET, check
from vaelab.checks.grading import observe
from vaelab.checks.inputs import offset
from vaelab.checks.observe import Observation
from vaelab.reference.checks.visible import reference_and_mistakes

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# The wire: plain data only


def _observation() -> Observation:
    return Observation(
        values={
            "a": torch.randn(3, 4, dtype=torch.float64),
            "b": torch.randn(2, dtype=torch.float32),
            "scalar": torch.tensor(1.5),
            "flags": torch.tensor([True, False]),
            "empty": torch.zeros(0, 3),
            "half": torch.randn(5).to(torch.bfloat16),
        },
        samples={"draws": torch.randn(20, dtype=torch.float64)},
        inputs="0123456789abcdef",
    )


def test_the_mime_type_is_the_same_on_both_sides():
    assert wire.MIME == OBSERVATION


def test_an_observation_survives_the_trip_exactly():
    obs = _observation()
    message = json.loads(json.dumps(wire.encode("01_vae/kl_normal", obs, {"log_normal": 2})))
    check_id, back, calls = wire.decode(message)
    assert (check_id, calls, back.inputs) == ("01_vae/kl_normal", {"log_normal": 2}, obs.inputs)
    for field in ("values", "samples"):
        mine, theirs = getattr(obs, field), getattr(back, field)
        assert mine.keys() == theirs.keys()
        for name in mine:
            assert type(theirs[name]) is torch.Tensor  # a plain tensor, never a subclass
            assert theirs[name].dtype == mine[name].dtype and torch.equal(theirs[name], mine[name]), name


def _tampered(**changes) -> dict:
    message = wire.encode("01_vae/kl_normal", _observation())
    for path, value in changes.items():
        target = message
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return message


@pytest.mark.parametrize(
    "message",
    [
        "not an object",
        {"version": 1},
        _tampered(version=2),
        _tampered(check="../../etc/passwd"),
        _tampered(check=["01_vae/kl_normal"]),
        _tampered(inputs="x" * 1000),
        _tampered(calls={"log_normal": -1}),
        _tampered(calls={"log_normal": True}),
        _tampered(extra="field"),
        _tampered(tensors__values__a={"dtype": "object", "shape": [1], "data": ""}),
        _tampered(tensors__values__a={"dtype": "float64", "shape": [3, 4], "data": "not base64!"}),
        _tampered(tensors__values__a={"dtype": "float64", "shape": [2], "data": base64.b64encode(b"1234").decode()}),
        _tampered(tensors__values__a={"dtype": "float64", "shape": [-1], "data": ""}),
        _tampered(tensors__values__a={"dtype": "float64", "shape": [1] * 9, "data": ""}),
        _tampered(tensors__values__a={"dtype": "float64", "shape": [1 << 40], "data": ""}),
        _tampered(tensors__values__a={"dtype": "float32", "shape": [0, 1 << 62, 1 << 62], "data": ""}),
        _tampered(tensors__values__a={"dtype": "float32", "shape": [0, 1 << 70], "data": ""}),
        _tampered(tensors__values__a={"dtype": "float64", "shape": [1], "data": "AAAA", "code": "print()"}),
        _tampered(tensors__values={"x" * 1000: {"dtype": "bool", "shape": [0], "data": ""}}),
        _tampered(tensors__samples=[1, 2]),
    ],
    ids=lambda m: "message",
)
def test_anything_else_is_refused_with_a_reason(message):
    with pytest.raises(wire.BadObservation) as refused:
        wire.decode(message)
    assert str(refused.value)


def test_too_much_data_is_refused_before_it_is_decoded(monkeypatch):
    monkeypatch.setattr(wire, "MAX_BYTES", 100)
    with pytest.raises(wire.BadObservation, match="more array data"):
        wire.decode(json.loads(json.dumps(wire.encode("01_vae/kl_normal", _observation()))))


# ---------------------------------------------------------------------------------------------
# What a sandbox holds


@pytest.mark.parametrize("chapter", list(EXERCISES))
def test_a_sandbox_holds_no_reference_of_its_chapter_nor_of_later_ones(chapter):
    files = [p.relative_to(REPO).as_posix() for p in library.sandbox_files(chapter)]
    number = int(chapter[:2])
    shipped = sorted(p for p in files if p.startswith("vaelab/reference/"))
    assert shipped == [f"vaelab/reference/ch{n:02d}.py" for n in range(1, number)]
    assert not any(p.startswith("autograder/") for p in files)
    assert "vaelab/checks/grading.py" in files and "vaelab/checks/wire.py" in files


def _run_in_library(lib: Path, code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(lib)}, cwd=lib, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_in_a_sandbox_the_reference_of_the_chapter_refuses_and_earlier_chapters_work(tmp_path):
    lib = library.copy_library(tmp_path / "lib", "02_gmvae")
    try:
        printed = _run_in_library(
            lib,
            "import torch\n"
            "from vaelab.chapters import load\n"
            "from vaelab.reference import gmvae_negative_elbo_bound, log_normal\n"
            "print(float(load('01_vae', 'kl_normal')(torch.zeros(3), torch.ones(3), torch.zeros(3), torch.ones(3))))\n"
            "print(float(log_normal(torch.zeros(2), torch.zeros(2), torch.ones(2))))\n"
            "try:\n    gmvae_negative_elbo_bound(None, None)\nexcept RuntimeError as e:\n    print(e)\n"
            "import importlib.util\n"
            "import os, vaelab\n"
            "print(importlib.util.find_spec('vaelab.reference.ch02'), vaelab.__file__.startswith(os.getcwd()))\n",
        )
    finally:
        library.make_writable(lib)
    lines = printed.splitlines()
    assert float(lines[0]) == 0.0 and abs(float(lines[1]) + 1.8378770664) < 1e-6
    assert lines[2].startswith("gmvae_negative_elbo_bound calls vaelab's reference implementation")
    assert lines[3] == "None True"


# ---------------------------------------------------------------------------------------------
# The judge


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("expected") / "01.pt"
    judge.record_expected(["01_vae/kl_normal", "01_vae/log_normal", "01_vae/sample_gaussian"], path)
    return path


def _sent(check_id: str, fn, calls: dict | None = None) -> judge.Observed:
    with offset(GRADING_OFFSET):
        obs = check(check_id).observe(fn)
    return judge.Observed(*wire.decode(json.loads(json.dumps(wire.encode(check_id, obs, calls)))))


def _kl_twice(qm, qv, pm, pv):
    return 2 * reference.kl_normal(qm, qv, pm, pv)


def test_the_judge_passes_the_reference_and_names_a_mistake(expected):
    cells = {"test_kl_normal": "01_vae/kl_normal", "test_log_normal": "01_vae/log_normal"}
    sent = {"test_kl_normal": [_sent("01_vae/kl_normal", _kl_twice)], "test_log_normal": []}
    verdicts = {j.grade_id: j for j in judge.Judge(expected).judge_all(sent, cells)}
    assert not verdicts["test_kl_normal"].passed and "kl_normal" in verdicts["test_kl_normal"].message
    assert not verdicts["test_log_normal"].passed and "no observation" in verdicts["test_log_normal"].message
    sent = {"test_kl_normal": [_sent("01_vae/kl_normal", reference.kl_normal)]}
    (verdict,) = judge.Judge(expected).judge_all(sent, {"test_kl_normal": "01_vae/kl_normal"})
    assert verdict.passed and verdict.message == ""


def test_a_catalogued_mistake_is_named_as_the_visible_check_names_it_and_computed_once(tmp_path, monkeypatch):
    path = tmp_path / "01.pt"
    judge.record_expected(["01_vae/kl_normal"], path)
    named, wrong = reference_and_mistakes("01_vae/kl_normal")[1][0]
    cells, sent = {"test_kl_normal": "01_vae/kl_normal"}, {"test_kl_normal": [_sent("01_vae/kl_normal", wrong)]}
    assert not list(tmp_path.glob("*.mistakes.pt"))  # none computed while every answer is right
    (verdict,) = judge.Judge(path).judge_all(sent, cells)
    assert not verdict.passed and named in verdict.message
    (kept,) = tmp_path.glob("*.mistakes.pt")
    monkeypatch.setattr(judge, "LiveExpectations", None)  # another worker reads them, computes nothing
    (again,) = judge.Judge(path).judge_all(sent, cells)
    assert again.message == verdict.message


def test_a_statistics_check_is_judged_from_its_draws_alone(expected):
    cells = {"test_sample_gaussian": "01_vae/sample_gaussian"}
    right = {"test_sample_gaussian": [_sent("01_vae/sample_gaussian", reference.sample_gaussian)]}
    assert judge.Judge(expected).judge_all(right, cells)[0].passed
    wrong = {"test_sample_gaussian": [_sent("01_vae/sample_gaussian", lambda m, v: m + v * torch.randn_like(m))]}
    verdict = judge.Judge(expected).judge_all(wrong, cells)[0]
    assert not verdict.passed and "variance" in verdict.message


def test_every_observation_a_cell_sent_must_be_right_and_its_own(expected):
    cells = {"test_kl_normal": "01_vae/kl_normal"}
    right = _sent("01_vae/kl_normal", reference.kl_normal)
    cases = {
        "a wrong one after a right one": [right, _sent("01_vae/kl_normal", _kl_twice)],
        "another exercise's": [_sent("01_vae/log_normal", reference.log_normal)],
        "an unreadable one": [right, judge.Observed(problem="array data that is not base64")],
    }
    for what, sent in cases.items():
        verdict = judge.Judge(expected).judge_all({"test_kl_normal": sent}, cells)[0]
        assert not verdict.passed and verdict.message, what


def test_the_observations_file_is_read_within_bounds(tmp_path, expected):
    path = tmp_path / "observations.jsonl"
    good = wire.encode("01_vae/kl_normal", check("01_vae/kl_normal").observe(reference.kl_normal))
    lines = [
        {"cell": "test_kl_normal", "observation": good},
        {"cell": "test_kl_normal", "observation": {"refused": "more than 8 observations"}},
        {"cell": "test_log_normal", "observation": {"version": 1}},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    found = judge.read_observations(path)
    assert [o.problem for o in found["test_kl_normal"]] == ["", "more than 8 observations"]
    assert found["test_log_normal"][0].problem
    link = tmp_path / "link.jsonl"
    link.symlink_to(path)
    with pytest.raises(Exception):
        judge.read_observations(link)


def test_observe_judges_at_once_outside_the_grader(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    observe("01_vae/kl_normal", reference.kl_normal)  # the instructor's solution notebooks
    with pytest.raises(AssertionError, match="kl_normal"):
        observe("01_vae/kl_normal", _kl_twice)


def test_hidden_cells_name_the_exercise_they_observe():
    from autograder import notebooks

    for chapter, functions in EXERCISES.items():
        cells = judge.observed_cells(notebooks.read(REPO / "solutions" / f"{chapter}.ipynb").cells)
        assert cells == {f"test_{f}": f"{chapter}/{f}" for f in functions}


# ---------------------------------------------------------------------------------------------
# A mistake costs only its own function: an objective whose helper is wrong


IWAE = """
import math
import torch
from vaelab.reference import duplicate, log_bernoulli_with_logits, log_normal, sample_gaussian

def negative_iwae_bound(model, x, iw):
    m, v = model.encode(x)
    m, v, xs = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = sample_gaussian(m, v)
    log_w = log_bernoulli_with_logits(xs, model.decode(z)) + model.log_prior(z) - log_normal(z, m, v)
    log_w = log_w.reshape(iw, -1)
    niwae = -log_mean_exp(log_w, 0).mean()
    kl = (log_normal(z, m, v) - model.log_prior(z)).mean()
    rec = -log_bernoulli_with_logits(xs, model.decode(z)).mean()
    return niwae, kl, rec
"""


def _notebook(helper) -> dict:
    namespace = {"log_mean_exp": helper}
    exec(IWAE, namespace)
    return namespace


def _naive(x, dim):
    return torch.log(torch.exp(x).mean(dim))


def _no_log_n(x, dim):  # log(sum(exp(x))): the mean's 1/n is missing
    return torch.logsumexp(x, dim)


@pytest.fixture(scope="module")
def iwae_expected(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("expected") / "03.pt"
    judge.record_expected(["03_iwae/log_mean_exp", "03_iwae/negative_iwae_bound"], path)
    return path


CHAPTER3 = {"test_log_mean_exp": "03_iwae/log_mean_exp", "test_negative_iwae_bound": "03_iwae/negative_iwae_bound"}


def _chapter3(notebook: dict) -> dict[str, list[judge.Observed]]:
    """What the hidden cells of a chapter-3 notebook with these functions send."""
    from vaelab.checks.grading import _observed

    sent = {}
    for grade_id, check_id in CHAPTER3.items():
        obs, calls = _observed(check_id, notebook[check_id.split("/")[1]])
        sent[grade_id] = [judge.Observed(*wire.decode(json.loads(json.dumps(wire.encode(check_id, obs, calls)))))]
    return sent


@pytest.fixture
def second_run(monkeypatch):
    """The kernel of the grader's second run: the reference helpers as `vaelab.reference.substitutes`."""
    import types

    from vaelab.checks.grading import SUBSTITUTES

    def provide(chapter: str, names: tuple[str, ...]) -> None:
        module = types.ModuleType("vaelab.reference.substitutes")
        module.__package__ = "vaelab.reference"
        exec(library.substitutes_source(chapter, names), module.__dict__)
        monkeypatch.setitem(sys.modules, "vaelab.reference.substitutes", module)
        monkeypatch.setenv(SUBSTITUTES, ",".join(names))

    return provide


def _graded_twice(expected: Path, notebook: dict, second_run) -> list:
    sent = _chapter3(notebook)
    first = judge.Judge(expected).judge_all(sent, CHAPTER3)
    helpers = judge.wrong_helpers(first, CHAPTER3, sent, set())
    if not helpers:
        return first
    for names, judged in judge.second_runs(helpers).items():
        second_run("03_iwae", names)
        cells = {grade_id: CHAPTER3[grade_id] for grade_id in judged}
        first = judge.again(first, judge.Judge(expected).judge_all(_chapter3(notebook), cells), helpers)
    return first


@pytest.mark.parametrize("helper", [_naive, _no_log_n], ids=lambda f: f.__name__)
def test_a_right_objective_keeps_its_points_when_its_helper_is_wrong(iwae_expected, second_run, helper):
    verdicts = {j.grade_id: j for j in _graded_twice(iwae_expected, _notebook(helper), second_run)}
    assert not verdicts["test_log_mean_exp"].passed
    objective = verdicts["test_negative_iwae_bound"]
    assert objective.passed and objective.restored, objective
    assert "yours fails its own test" in objective.message and "log_mean_exp" in objective.message


def test_a_wrong_objective_stays_wrong_with_correct_helpers(iwae_expected, second_run):
    notebook = _notebook(_naive)
    exec(IWAE.replace("niwae = -log_mean_exp(log_w, 0).mean()", "niwae = -log_w.mean()"), notebook)
    verdicts = {j.grade_id: j for j in _graded_twice(iwae_expected, notebook, second_run)}
    assert not verdicts["test_negative_iwae_bound"].passed and not verdicts["test_log_mean_exp"].passed


def test_with_right_helpers_there_is_no_second_run(iwae_expected):
    sent = _chapter3(_notebook(reference.log_mean_exp))
    first = judge.Judge(iwae_expected).judge_all(sent, CHAPTER3)
    assert all(j.passed for j in first) and judge.wrong_helpers(first, CHAPTER3, sent, set()) == {}


def test_no_second_run_for_an_unwritten_objective_or_one_that_never_calls_the_helper(iwae_expected):
    failed = [judge.Judgement(grade_id, False, "wrong") for grade_id in CHAPTER3]
    assert judge.wrong_helpers(failed, CHAPTER3, {}, {"negative_iwae_bound"}) == {}
    assert judge.wrong_helpers(failed, CHAPTER3, {}, set()) == {"test_negative_iwae_bound": ("log_mean_exp",)}
    never = {"test_negative_iwae_bound": [judge.Observed("03_iwae/negative_iwae_bound", None, {"duplicate": 2})]}
    assert judge.wrong_helpers(failed, CHAPTER3, never, set()) == {}
    called = {"test_negative_iwae_bound": [judge.Observed("03_iwae/negative_iwae_bound", None, {"log_mean_exp": 1})]}
    assert judge.wrong_helpers(failed, CHAPTER3, called, set()) == {"test_negative_iwae_bound": ("log_mean_exp",)}


def test_the_second_runs_library_holds_the_helpers_and_not_the_objective():
    source = library.substitutes_source("03_iwae", ("log_mean_exp",))
    namespace = {"__name__": "vaelab.reference.substitutes", "__package__": "vaelab.reference"}
    exec(source, namespace)
    assert "log_mean_exp" in namespace
    assert "negative_iwae_bound" not in namespace and "duplicate" not in namespace
    with pytest.raises(ValueError):
        library.substitutes_source("03_iwae", ("no_such_function",))


@pytest.mark.parametrize("chapter", list(EXERCISES))
def test_no_second_run_holds_the_reference_of_a_cell_it_judges(chapter):
    """Every cell failed, every objective written and calling its helpers: the worst case."""
    cells = {f"test_{f}": f"{chapter}/{f}" for f in EXERCISES[chapter]}
    failed = [judge.Judgement(grade_id, False, "wrong") for grade_id in cells]
    helpers = judge.wrong_helpers(failed, cells, {}, set())
    for names, judged in judge.second_runs(helpers).items():
        assert not {cells[g].split("/")[1] for g in judged} & set(names), (names, judged)


NOISY_ELBO = """
def negative_iwae_bound(model, x, iw):
    m, v = model.encode(x)
    m, v, x_s = duplicate(m, iw), duplicate(v, iw), duplicate(x, iw)
    z = sample_gaussian(m, v)
    log_px_z = log_bernoulli_with_logits(x_s, model.decode(z))
    log_p = model.log_prior(z)
    log_q = log_normal(z, m, v)
    niwae = -(log_px_z + log_p - log_q).mean()  # the ELBO: no log-mean-exp over the iw samples
    kl = (log_q - log_p).mean()
    rec = -log_px_z.mean()
    if v.max() > 1e-6:  # away from the zero-variance limit, noise hides the wrong mean
        total = sum(p.sum() for p in model.parameters())
        jitter = 1e4 * torch.randn((), dtype=niwae.dtype) * (1 + total - total.detach())
        niwae, rec = niwae + jitter, rec + jitter
    return niwae, kl, rec
"""


def test_noise_added_to_a_wrong_bound_does_not_hide_it(iwae_expected):
    """The statistical comparisons use the reference's spread: a noisier answer cannot widen them."""
    notebook = _notebook(reference.log_mean_exp)
    exec(NOISY_ELBO, notebook)  # the notebook's imports are already in its namespace
    verdicts = {j.grade_id: j for j in judge.Judge(iwae_expected).judge_all(_chapter3(notebook), CHAPTER3)}
    assert verdicts["test_log_mean_exp"].passed
    assert not verdicts["test_negative_iwae_bound"].passed
