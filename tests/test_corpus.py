"""The hidden tests against a corpus of realistic student answers (``tests/corpus``).

Every corpus file holds one answer and says in its docstring whether it is right (``expect: pass``) or,
when it is wrong, which words a good feedback message contains (``keywords:``). Each answer runs in a
namespace with the notebook's globals (the earlier exercises are the reference answers, as after a
chapter is released) and goes straight to the hidden test that grading runs: no kernel, so the whole
corpus takes a couple of minutes on one core.
"""

from __future__ import annotations

import importlib
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributions as D
import torch.nn.functional as F

from vaelab.reference import ch01, ch02, ch03, ch04, ch05

CORPUS = Path(__file__).parent / "corpus"
CHAPTERS = {"01_vae": ch01, "02_gmvae": ch02, "03_iwae": ch03, "04_ssvae": ch04, "05_fsvae": ch05}
FILES = sorted(CORPUS.glob("0*/*/*.py"))


def _fields(path: Path) -> dict[str, str]:
    """The docstring's ``key: value`` lines (expect, mistake, keywords, uses)."""
    doc = re.match(r'\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', path.read_text(), re.S)
    assert doc, f"{path} has no module docstring"
    fields = {}
    for line in doc.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("expect", "mistake", "keywords", "uses"):
            fields[key.strip()] = value.strip()
    return fields


def notebook_globals(chapter: str, function: str) -> dict:
    """What the chapter's notebook defines before the answer cell of ``function`` runs.

    The earlier chapters' exercises and the same chapter's earlier exercises, as their reference
    answers (Chapter 2 also has Chapter 1's bound as ``vae_negative_elbo_bound``).
    """
    namespace = {"torch": torch, "math": math, "F": F, "D": D, "np": np, "__name__": "__main__"}
    for name, module in CHAPTERS.items():
        for exercise in module.__all__:
            if name == chapter and exercise == function:
                return namespace
            if exercise == "negative_elbo_bound":
                if name == "01_vae":
                    namespace["vae_negative_elbo_bound"] = module.negative_elbo_bound
                continue  # later chapters write their own bound
            namespace[exercise] = getattr(module, exercise)
    raise KeyError(f"{chapter}.{function} is no exercise of the reference")


def load_answer(path: Path):
    chapter, function = path.parent.parent.name, path.parent.name
    namespace = notebook_globals(chapter, function)
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace[function]


def _hidden_test(path: Path):
    chapter, function = path.parent.parent.name, path.parent.name
    module = importlib.import_module(f"autograder.hidden.ch{chapter[:2]}")
    return getattr(module, f"test_{function}")


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_corpus_answer(path):
    fields = _fields(path)
    expect = fields.get("expect")
    assert expect in ("pass", "fail"), f"{path.name}: expect must be pass or fail, not {expect!r}"
    answer, hidden = load_answer(path), _hidden_test(path)
    with torch.random.fork_rng():
        torch.manual_seed(1234)  # the notebook's global state differs from run to run; the tests must not care
        if expect == "pass":
            hidden(answer)
            return
        with pytest.raises(AssertionError) as info:
            hidden(answer)
    message = str(info.value).lower()
    keywords = [k.strip().lower() for k in fields.get("keywords", "").split(",") if k.strip()]
    assert any(k in message for k in keywords), (
        f"the message names none of {keywords} (mistake: {fields.get('mistake')}):\n{info.value}"
    )


def test_corpus_covers_every_exercise():
    """At least 5 correct and 10 wrong answers for every autograded function."""
    for chapter, module in CHAPTERS.items():
        for function in module.__all__:
            files = list((CORPUS / chapter / function).glob("*.py"))
            right = sum(f.name.startswith("correct") for f in files)
            wrong = len(files) - right
            assert right >= 5 and wrong >= 10, f"{chapter}/{function}: {right} correct, {wrong} wrong"


def _visible_check(path: Path):
    from vaelab.checks import VISIBLE

    return VISIBLE[f"{path.parent.parent.name}/{path.parent.name}"]


#: Wrong answers whose visible message does not contain the corpus's keywords (the visible check still
#: fails them): the visible check sees only what the grader's full check sees on fewer inputs.
VISIBLE_UNNAMED: set[str] = set()


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_corpus_answer_visible(path, capsys):
    """The visible check (the notebook's check cell, the self-check) judges every answer as the grader does."""
    fields = _fields(path)
    answer, visible = load_answer(path), _visible_check(path)
    with torch.random.fork_rng():
        torch.manual_seed(1234)
        if fields["expect"] == "pass":
            visible(answer)
            assert "✓" in capsys.readouterr().out
            return
        with pytest.raises(AssertionError) as info:
            visible(answer)
    relative = str(path.relative_to(CORPUS))
    message = str(info.value).lower()
    keywords = [k.strip().lower() for k in fields.get("keywords", "").split(",") if k.strip()]
    named = any(k in message for k in keywords)
    assert named or relative in VISIBLE_UNNAMED, (
        f"the visible message names none of {keywords} (mistake: {fields.get('mistake')}):\n{info.value}"
    )
    assert not (named and relative in VISIBLE_UNNAMED), f"{relative} is named now: remove it from VISIBLE_UNNAMED"


def _exercises() -> list[str]:
    from vaelab.checks import VISIBLE

    return sorted(VISIBLE)


@pytest.mark.parametrize("check_id", _exercises())
def test_an_answer_that_runs_the_reference_is_refused_by_both_checks_in_the_same_words(check_id):
    """The self-check says what the grader says: an answer that runs the reference earns no points."""
    from vaelab.checks import VISIBLE

    chapter, function = check_id.split("/")
    reference = getattr(CHAPTERS[chapter], function)

    def answer(*args, **kwargs):  # a thin wrapper, as a student would write it
        return reference(*args, **kwargs)

    with torch.random.fork_rng(), pytest.raises(AssertionError) as visible:
        VISIBLE[check_id](answer)
    with torch.random.fork_rng(), pytest.raises(AssertionError) as hidden:
        _hidden_test(CORPUS / chapter / function / "answer.py")(answer)
    assert "earns no points" in str(hidden.value)
    assert str(visible.value) == str(hidden.value)


def test_every_known_mistake_of_the_objectives_is_observable():
    """A catalogued wrong objective that crashes the probe is silently left out of the messages: none may."""
    from vaelab.checks import probes
    from vaelab.checks.engine import CheckFailed
    from vaelab.reference.checks.visible import OBJECTIVE_MISTAKES

    all_probes, broken = probes(), []
    for check_id, mistakes in OBJECTIVE_MISTAKES.items():
        for message, impl in mistakes():
            try:
                all_probes[check_id](impl)
            except CheckFailed as error:  # a reference-free check catches it first: fine, unless the code is broken
                if "raised" in str(error):
                    broken.append(f"{check_id}: {message[:60]}: {error}")
    assert not broken, "\n".join(broken)


@pytest.mark.slow
def test_a_handout_s_stored_observations_judge_the_corpus_as_the_live_ones(tmp_path, monkeypatch):
    """What a handout ships (expected.pt, outputs only) judges every corpus answer as the live reference does."""
    from vaelab.checks import VISIBLE, observe, probes

    store = tmp_path / "expected.pt"
    observe.record(probes(), store)
    monkeypatch.setattr(observe, "_PROVIDER", observe.StoredExpectations(store))
    misjudged = []
    for path in FILES:
        check_id = f"{path.parent.parent.name}/{path.parent.name}"
        with torch.random.fork_rng():
            torch.manual_seed(1234)
            try:
                VISIBLE[check_id](load_answer(path))
                got = "pass"
            except AssertionError:
                got = "fail"
        if got != _fields(path)["expect"]:
            misjudged.append(str(path.relative_to(CORPUS)))
    assert not misjudged, misjudged
