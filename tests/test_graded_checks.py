"""The graded checks (``vaelab.checks.graded``): every exercise observed in one place and judged in
another, on the grading inputs (the seed offset), from the observation alone.

The reference must pass its own Check; every corpus answer must be judged as its docstring says
(a wrong one with a message that names its mistake); the observation must survive the plain-data round
trip; and the parts that judge without the reference (statistics, the decoded noise) must fail wrong
answers in the judge, not in the kernel.
"""

from __future__ import annotations

import importlib

import pytest
import torch
from test_corpus import CORPUS, FILES, _fields, load_answer

from vaelab.checks import VISIBLE
from vaelab.checks.engine import CheckFailed
from vaelab.checks.graded import CHECK_IDS, GRADING_OFFSET, check
from vaelab.checks.inputs import current_offset, offset, randn
from vaelab.checks.observe import LiveExpectations, Observation

LIVE = LiveExpectations()


def _reference(check_id: str):
    chapter, name = check_id.split("/")
    return getattr(importlib.import_module(f"vaelab.reference.ch{chapter[:2]}"), name)


def _round_trip(obs: Observation) -> Observation:
    """What crosses from the kernel to the grader: plain tensors only."""
    return Observation.from_plain(obs.to_plain())


def test_every_exercise_has_a_check_in_the_visible_order():
    assert CHECK_IDS == tuple(VISIBLE)
    assert all(check(c).check_id == c and check(c).name == c.split("/")[1] for c in CHECK_IDS)
    with pytest.raises(KeyError):
        check("01_vae/no_such_exercise")


def test_the_offset_shifts_every_seed_and_is_restored():
    plain = randn(3, seed=5)
    with offset(GRADING_OFFSET):
        assert current_offset() == GRADING_OFFSET
        shifted = randn(3, seed=5)
        with offset(7):
            assert current_offset() == 7
        assert current_offset() == GRADING_OFFSET
    assert current_offset() == 0
    assert not torch.equal(plain, shifted)
    assert torch.equal(plain, randn(3, seed=5))


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_the_reference_passes_its_check_on_the_grading_inputs(check_id):
    chk, reference = check(check_id), _reference(check_id)
    with torch.random.fork_rng():
        torch.manual_seed(4321)
        visible = chk.observe(reference)
        with offset(GRADING_OFFSET):
            got = _round_trip(chk.observe(reference))
            chk.judge(got, LIVE)
    assert got.inputs and got.inputs != visible.inputs, "the grading inputs must differ from the visible ones"


def test_expectations_are_cached_by_the_offset():
    chk = check("01_vae/kl_normal")
    plain = LIVE.get(chk.check_id, chk.observe)
    with offset(GRADING_OFFSET):
        graded = LIVE.get(chk.check_id, chk.observe)
    assert plain.expected.inputs != graded.expected.inputs
    assert LIVE.get(chk.check_id, chk.observe) is plain


def test_records_cross_the_round_trip_and_are_never_compared_with_the_reference():
    chk, reference = check("01_vae/negative_elbo_bound"), _reference("01_vae/negative_elbo_bound")
    with offset(GRADING_OFFSET), torch.random.fork_rng():
        torch.manual_seed(1)
        got = _round_trip(chk.observe(reference))
        expected = LIVE.get(chk.check_id, chk.observe).expected
    noise = [k for k in got.records if k.startswith("decoded noise")]
    assert noise and set(noise) <= set(expected.records)
    # The noise is random: a student's differs from the reference's (here: the same draws, negated, as
    # valid as they were), and the judge must not compare them.
    key = "decoded noise (z - m) / sqrt(v)"
    got.records[key] = -got.records[key]
    assert not torch.allclose(got.records[key], expected.records[key])
    with offset(GRADING_OFFSET):
        chk.judge(got, LIVE)


def test_a_verdict_judges_the_records_alone_and_can_fail():
    chk = check("01_vae/sample_gaussian")

    def scaled_by_v(m, v):
        return m + v * torch.randn_like(m + v)

    with offset(GRADING_OFFSET):
        got = _round_trip(chk.observe(scaled_by_v))  # observing it raises nothing: it returns usable draws
        with pytest.raises(CheckFailed, match="v²"):
            chk.judge(got)
    # Judged under another offset than it was observed under, the draws are not the check's.
    with pytest.raises(CheckFailed, match="other m and v"):
        chk.judge(got)


def test_the_decoded_noise_is_judged_outside_the_kernel():
    from vaelab.reference import ch01

    chk = check("01_vae/negative_elbo_bound")

    def no_noise(model, x, beta=1.0):  # decodes the encoder mean in place of a sample
        m, v = model.encode(x)
        rec = -ch01.log_bernoulli_with_logits(x, model.decode(m)).mean()
        kl = ch01.kl_normal(m, v, *model.prior()).mean()
        return rec + beta * kl, kl, rec

    with offset(GRADING_OFFSET), torch.random.fork_rng():
        got = _round_trip(chk.observe(no_noise))
        with pytest.raises(CheckFailed, match="encoder mean, not a sample"):
            chk.judge(got, LIVE)


def test_the_grid_is_judged_with_the_rebuilt_model():
    from vaelab.reference import ch05

    chk = check("05_fsvae/sample_grid")

    def reseeds(model, n_styles=20, generator=None):
        return ch05.sample_grid(model, n_styles, torch.Generator().manual_seed(0))

    with offset(GRADING_OFFSET):
        got = _round_trip(chk.observe(reseeds))
        with pytest.raises(CheckFailed, match="different seeds gave the same grid"):
            chk.judge(got)
    with pytest.raises(CheckFailed, match="another model"):
        chk.judge(got)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_corpus_answer_graded(path):
    """The graded Check judges every corpus answer on the grading inputs as its docstring says."""
    fields = _fields(path)
    chk = check(f"{path.parent.parent.name}/{path.parent.name}")
    answer = load_answer(path)
    with torch.random.fork_rng(), offset(GRADING_OFFSET):
        torch.manual_seed(1234)
        if fields["expect"] == "pass":
            chk.judge(_round_trip(chk.observe(answer)), LIVE)
            return
        with pytest.raises(AssertionError) as info:
            chk.judge(_round_trip(chk.observe(answer)), LIVE)
    message = str(info.value).lower()
    keywords = [k.strip().lower() for k in fields.get("keywords", "").split(",") if k.strip()]
    assert any(k in message for k in keywords), (
        f"the graded message names none of {keywords} (mistake: {fields.get('mistake')}):\n{info.value}"
    )
