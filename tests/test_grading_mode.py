"""Grading mode: while the autograder grades a notebook (``NBGRADER_EXECUTION=autograde``) its
training cells take a handful of steps with a light Adam and no progress bar, and its figures are
built but not rendered; nothing else changes.

The truths: the step counts that fast and full mode have always had, ``torch.optim.Adam``'s own
trajectory, a fresh interpreter's list of imported modules, the outputs a real IPython kernel
sends, matplotlib's default subplot margins and what tqdm writes to stderr.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from vaelab import train as training
from vaelab.train import GRADING_STEPS, GradingAdam, grading_mode, make_optimizer, steps_for


def _mode(monkeypatch, fast: str | None, nbgrader: str | None) -> None:
    for name, value in (("VAELAB_FAST", fast), ("NBGRADER_EXECUTION", nbgrader)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_steps_in_each_mode(monkeypatch):
    _mode(monkeypatch, None, None)  # a student's full run: unchanged
    assert not grading_mode() and steps_for(8000, fast_steps=300) == 8000
    _mode(monkeypatch, "1", None)  # fast mode (tests, nbval): unchanged
    assert not grading_mode() and steps_for(8000, fast_steps=300) == 300 and steps_for(50) == 50
    _mode(monkeypatch, None, "validate")  # nbgrader's validate is fast mode, not grading
    assert not grading_mode() and steps_for(8000) == 300
    _mode(monkeypatch, "1", "autograde")  # the autograder's environment (autograder.runner)
    assert grading_mode()
    assert steps_for(8000, fast_steps=300) == GRADING_STEPS and steps_for(3000, fast_steps=100) == GRADING_STEPS
    assert steps_for(2, fast_steps=300) == min(2, GRADING_STEPS) and steps_for(1) == 1
    assert 1 <= GRADING_STEPS <= 10


def test_grading_environment_is_grading_mode(monkeypatch):
    from autograder.runner import GRADING_ENVIRONMENT

    _mode(monkeypatch, None, None)
    for name, value in GRADING_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    assert grading_mode() and steps_for(8000) == GRADING_STEPS


@pytest.mark.parametrize("lr", [1e-3, 3e-2])
def test_grading_adam_follows_torch_adam(lr):
    """Both optimisers from the same weights over the same losses: the same weights after 25 steps
    (a parameter without a gradient stays as it is in both)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.ELU(), nn.Linear(8, 3), nn.Linear(2, 2))
    start, nets = _copy(net), [net, _copy(net)]
    optimisers = [torch.optim.Adam(nets[0].parameters(), lr=lr), GradingAdam(nets[1].parameters(), lr=lr)]
    data = torch.randn(25, 16, 6, generator=torch.Generator().manual_seed(1))
    for x in data:
        for model, optimiser in zip(nets, optimisers):
            optimiser.zero_grad()
            loss = (model[:3](x) ** 2).mean() + model[0].weight.abs().sum()  # model[3]: no gradient
            loss.backward()
            optimiser.step()
    moved = []
    for (name, p), q, p0 in zip(nets[0].named_parameters(), nets[1].parameters(), start.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6, msg=name)
        moved.append(not torch.equal(p, p0))
    assert moved == [True, True, True, True, False, False]  # model[3] has no gradient: not moved


def _copy(net: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(net)


def test_grading_adam_zero_grad():
    p = nn.Parameter(torch.ones(3))
    optimiser = GradingAdam([p])
    (p**2).sum().backward()
    optimiser.zero_grad(set_to_none=False)
    assert torch.equal(p.grad, torch.zeros(3))
    optimiser.zero_grad()
    assert p.grad is None


def test_make_optimizer_by_mode(monkeypatch):
    params = list(nn.Linear(3, 2).parameters())
    _mode(monkeypatch, "1", None)
    assert isinstance(make_optimizer(params), torch.optim.Adam)  # fast and full mode: torch's Adam
    _mode(monkeypatch, "1", "autograde")
    assert isinstance(make_optimizer(params), GradingAdam)


def test_graded_training_does_not_import_dynamo():
    """The reason for GradingAdam: a graded notebook's training must not pull in ``torch._dynamo``
    (seconds per notebook). In fast mode torch's Adam does, which shows that the probe can fail."""
    code = (
        "import sys, torch\n"
        "from vaelab.train import train, steps_for\n"
        "model = torch.nn.Linear(4, 1)\n"
        "x = torch.randn(64, 4)\n"
        "loss = lambda m, b: ((m(b) - 1) ** 2).mean()\n"
        "h = train(model, lambda m, b: (loss(m, b), {}), [x], steps=steps_for(300), progress=False)\n"
        "print(h.steps, 'torch._dynamo' in sys.modules)\n"
    )
    found = {}
    for label, nbgrader in (("graded", "autograde"), ("fast", None)):
        env = {k: v for k, v in __import__("os").environ.items() if k != "NBGRADER_EXECUTION"}
        env.update(VAELAB_FAST="1", OMP_NUM_THREADS="1", PYTHONPATH=str(training.__file__).rsplit("/vaelab/", 1)[0])
        if nbgrader:
            env["NBGRADER_EXECUTION"] = nbgrader
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        steps, dynamo = out.stdout.split()
        found[label] = (int(steps), dynamo == "True")
    assert found["graded"] == (GRADING_STEPS, False)
    assert found["fast"] == (300, True)


def test_grading_speed_breakdown(tmp_path):
    """`benchmarks/grading_speed.py --breakdown` on the toy chapter: every stage measured, the
    stages add up to the total, and the kernel's own CPU time is seen (it imports a library)."""
    import importlib.util
    import json
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("grading_speed", repo / "benchmarks" / "grading_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "breakdown.json"
    toy = repo / "tests" / "fixtures" / "toy" / "solutions"
    assert bench.main(["--breakdown", "--solutions", str(toy), "--json", str(out)]) == 0
    found = json.loads(out.read_text())
    table = found["cpu_seconds"]
    assert list(table) == ["00_toy", "all"]
    assert list(found["prepared_once_per_batch_cpu_seconds"]) == ["00_toy"]
    row = table["00_toy"]
    assert set(row) == {*bench.STAGES, "total", "wall"}
    assert all(row[stage] >= 0 for stage in bench.STAGES)
    assert row["total"] == pytest.approx(sum(row[stage] for stage in bench.STAGES), abs=0.05)
    assert row["kernel start"] > 0.05 and row["autograde"] > 0 and row["feedback"] > 0
    assert 0 < row["total"] < 10 * row["wall"]


def test_figures_rendered_by_mode(monkeypatch):
    from vaelab import figures_rendered

    monkeypatch.delenv("VAELAB_GRADING_FIGURES", raising=False)
    modes = ((None, None, True), ("1", None, True), ("1", "validate", True), ("1", "autograde", False))
    for fast, nbgrader, rendered in modes:
        _mode(monkeypatch, fast, nbgrader)
        assert figures_rendered() is rendered, (fast, nbgrader)
    monkeypatch.setenv("VAELAB_GRADING_FIGURES", "1")  # the instructor asks for the figures
    assert figures_rendered()


#: A graded notebook's figure cells, in both orders of the setup cell's imports.
_FIGURE_CELLS = {
    "vaelab first": ["from vaelab.plots import image_grid", "import matplotlib.pyplot as plt\n%matplotlib inline"],
    "pyplot first": ["import matplotlib.pyplot as plt\n%matplotlib inline", "from vaelab.plots import image_grid"],
}
_DRAW = [
    "import numpy as np\ndisplay(image_grid(np.zeros((4, 784))))",  # a vaelab figure, displayed
    "plt.plot([0, 1], [1, 0]);",  # a pyplot figure: the inline backend displays it after the cell
]


def _figure_outputs(monkeypatch, nbgrader: str | None, order: str) -> list[set[str]]:
    """The MIME types of the outputs of `_DRAW`'s cells, run in a fresh IPython kernel."""
    import nbformat
    from nbclient import NotebookClient

    _mode(monkeypatch, "1", nbgrader)
    monkeypatch.delenv("VAELAB_GRADING_FIGURES", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    repo = str(training.__file__).rsplit("/vaelab/", 1)[0]
    monkeypatch.setenv("PYTHONPATH", repo)
    cells = [nbformat.v4.new_code_cell(source) for source in _FIGURE_CELLS[order] + _DRAW]
    notebook = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": repo}}).execute()
    return [{mime for output in cell.outputs for mime in output.get("data", {})} for cell in notebook.cells[2:]]


@pytest.mark.parametrize("order", sorted(_FIGURE_CELLS))
def test_graded_kernel_shows_figures_as_text(monkeypatch, order):
    """While grading, a displayed figure (vaelab's or pyplot's) arrives as its one-line text, whichever
    of vaelab and pyplot the notebook imports first."""
    assert _figure_outputs(monkeypatch, "autograde", order) == [{"text/plain"}, {"text/plain"}]


def test_kernel_outside_grading_renders_figures(monkeypatch):
    """The same cells in a student's kernel (nbgrader's validate included): PNG images."""
    outputs = _figure_outputs(monkeypatch, "validate", "vaelab first")
    assert all("image/png" in mimes for mimes in outputs), outputs


def test_layout_skipped_while_grading(monkeypatch):
    """`tight_layout` moves the margins away from matplotlib's defaults, except while grading."""
    import matplotlib

    from vaelab.plots import plot_loss_curves

    history = {"step": [1, 2, 3], "loss": [3.0, 2.0, 1.0]}
    default = matplotlib.rcParams["figure.subplot.left"]
    _mode(monkeypatch, "1", None)
    assert plot_loss_curves([("run", history)]).subplotpars.left != pytest.approx(default)
    _mode(monkeypatch, "1", "autograde")
    assert plot_loss_curves([("run", history)]).subplotpars.left == pytest.approx(default)


def test_no_progress_bar_while_grading(monkeypatch, capsys):
    model = nn.Linear(4, 1)
    x = torch.randn(8, 4)
    for nbgrader, shown in ((None, True), ("autograde", False)):
        _mode(monkeypatch, "1", nbgrader)
        training.train(model, lambda m, b: ((m(b) ** 2).mean(), {}), [x], steps=2, progress=True)
        assert ("2/2" in capsys.readouterr().err) is shown, nbgrader
