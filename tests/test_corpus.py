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
            right = sum(f.name.startswith("correct_") for f in files)
            wrong = len(files) - right
            assert right >= 5 and wrong >= 10, f"{chapter}/{function}: {right} correct, {wrong} wrong"
