"""What a hidden test does with an answer that tries to fool it or that crashes.

The hidden tests run in the student's kernel, so these are a second line of defence (the sandbox and
the grader's checks of the run are the first): an answer may not return a tensor subclass that
rewrites comparisons, nor judge itself under a torch mode that intercepts the checks' calls; and a
failure shows the student the message and their own lines, never the lines of the tests or the
reference.
"""

from __future__ import annotations

import linecache
import traceback

import pytest
import torch
from torch.overrides import TorchFunctionMode

from autograder.hidden import ch01


class Agreeable(torch.Tensor):
    """A tensor whose every comparison says "equal" and every reduction says "all true"."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("isclose", "allclose", "eq", "__eq__", "equal"):
            return True if name in ("allclose", "equal") else torch.ones((), dtype=torch.bool)
        if name in ("all", "any"):
            return torch.tensor(True)
        return super().__torch_function__(func, types, args, kwargs or {})


def forged_kl(qm, qv, pm, pv):
    return torch.zeros(qm.shape[:-1]).as_subclass(Agreeable)


class Approve(TorchFunctionMode):
    """A mode that makes every closeness test pass."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("isclose", "allclose"):
            out = func(*args, **(kwargs or {}))
            return torch.ones_like(out) if isinstance(out, torch.Tensor) else True
        return func(*args, **(kwargs or {}))


def test_a_tensor_subclass_is_refused():
    with pytest.raises(AssertionError, match="subclass of torch.Tensor"):
        ch01.test_kl_normal(forged_kl)


def test_an_active_torch_function_mode_is_refused():
    mode = Approve()
    mode.__enter__()  # as a notebook cell would leave it, without a with block
    try:
        with pytest.raises(AssertionError, match="TorchFunctionMode"):
            ch01.test_kl_normal(lambda qm, qv, pm, pv: torch.zeros(qm.shape[:-1]))
    finally:
        mode.__exit__(None, None, None)
    ch01.test_kl_normal(_kl)  # once the mode is gone, a correct answer passes


def _kl(qm, qv, pm, pv):
    return 0.5 * (torch.log(pv / qv) + (qv + (qm - pm) ** 2) / pv - 1).sum(-1)


def _cell(source: str, name: str):
    """A function defined the way a notebook cell defines it (its file is the kernel's cell file)."""
    namespace, filename = {"torch": torch}, "/tmp/ipykernel_7/cell_3.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # as IPython registers cells
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def test_a_failure_shows_no_line_of_the_tests_or_the_reference():
    wrong = _cell("def kl_normal(qm, qv, pm, pv):\n    return (qv / pv).sum(-1)\n", "kl_normal")
    with pytest.raises(AssertionError) as info:
        ch01.test_kl_normal(wrong)
    shown = "".join(traceback.format_exception(info.value))
    assert "vaelab/reference" not in shown and "hidden/ch01.py" not in shown
    frames = [f.filename for f in traceback.extract_tb(info.value.__traceback__)]
    assert not any("vaelab" in f for f in frames), frames
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_crash_shows_the_students_own_line_and_the_inputs_shapes():
    crashing = _cell(
        "def kl_normal(qm, qv, pm, pv):\n    ratio = qv / pv\n    return ratio.sum(-1) @ qm\n",
        "kl_normal",
    )
    with pytest.raises(AssertionError) as info:
        ch01.test_kl_normal(crashing)
    message = str(info.value)
    assert message.startswith("kl_normal raised RuntimeError")
    assert "tensor(" in message and "Sequential" not in message
    assert "Where your code raised RuntimeError" in message and "ratio.sum(-1) @ qm" in message


def test_a_crash_of_the_objective_names_the_model_by_its_class_not_its_layers():
    crashing = _cell(
        "def negative_elbo_bound(model, x, beta=1.0):\n    return model.missing(x)\n", "negative_elbo_bound"
    )
    with pytest.raises(AssertionError) as info:
        ch01.test_negative_elbo_bound(crashing)
    first = str(info.value).splitlines()[0]
    assert first.startswith("negative_elbo_bound raised AttributeError"), first
    assert "model" in first and "Linear(" not in str(info.value)


def peeking_kl(qm, qv, pm, pv):
    """Returns whatever tensor of the right shape a caller holds under a telling name."""
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        for name in ("expected", "want", "reference_value"):
            value = frame.f_locals.get(name)
            if isinstance(value, torch.Tensor) and value.shape == qm.shape[:-1]:
                return value.clone()
        frame = frame.f_back
    return torch.zeros(qm.shape[:-1])


def test_the_expected_value_is_not_in_a_callers_frame_while_the_answer_runs():
    with pytest.raises(AssertionError, match="values differ|kl_normal"):
        ch01.test_kl_normal(peeking_kl)


def test_an_answer_that_changes_its_inputs_in_place_is_told_so():
    def kl_normal(qm, qv, pm, pv):
        with torch.no_grad():
            qv.clamp_(min=1e-6)  # a "safety" clamp, on the caller's tensor
        return _kl(qm, qv, pm, pv)

    with pytest.raises(AssertionError, match="in place"):
        ch01.test_kl_normal(kl_normal)
