"""Every benchmark script runs: a smoke run with tiny arguments, as Pyro's ``tests/test_examples.py`` does.

Each ``benchmarks/*.py`` declares its smoke run with one module-level literal (read here with ``ast``,
without importing the script):

* ``SMOKE_ARGS = ["--steps", "20", "--json", "{tmp}/out.json"]``: this file runs
  ``python benchmarks/<script>.py *SMOKE_ARGS`` in a subprocess, in a fresh temporary folder, with a
  timeout and a CPU-time budget; ``{tmp}`` is that folder and ``{repo}`` the repository. Every
  ``{tmp}/*.json`` argument must be written and parse; :data:`CHECKS` checks more for some scripts.
* ``SMOKE_TEST = "tests/test_x.py::test_name"``: a test elsewhere in ``tests/`` runs the script with
  tiny arguments (in-process, with its own checks); here it must exist and name the script.

:func:`test_every_benchmark_declares_a_smoke_run` fails, naming them, when a script declares neither.
"""

from __future__ import annotations

import ast
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
#: Wall-clock limit of one smoke run: catches a hang, even on a machine busy with other jobs.
SMOKE_TIMEOUT = 300
#: CPU seconds (the script and its children) one smoke run may take: tiny arguments stay tiny.
SMOKE_CPU_SECONDS = 30
#: Folders a smoke run must leave alone (the committed results and the notebooks' checkpoints).
UNTOUCHED = (BENCHMARKS / "results", REPO / "runs")


def declarations() -> dict[str, dict]:
    """``{script stem: {"SMOKE_ARGS": [...], "SMOKE_TEST": "..."}}`` (only what it declares) for every script."""
    found = {}
    for path in sorted(BENCHMARKS.glob("*.py")):
        declared = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign) and node.value is not None
                else []
            )
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("SMOKE_ARGS", "SMOKE_TEST"):
                    declared[target.id] = ast.literal_eval(node.value)
        found[path.stem] = declared
    return found


DECLARED = declarations()
SMOKE_ARGS = {name: d["SMOKE_ARGS"] for name, d in DECLARED.items() if "SMOKE_ARGS" in d}
SMOKE_TESTS = {name: d["SMOKE_TEST"] for name, d in DECLARED.items() if "SMOKE_TEST" in d}


def test_every_benchmark_declares_a_smoke_run():
    assert len(DECLARED) >= 8, f"benchmarks/*.py not found where expected: {sorted(DECLARED)}"
    missing = sorted(name for name, declared in DECLARED.items() if not declared)
    assert not missing, (
        f"benchmark scripts without a smoke run: {', '.join(f'benchmarks/{m}.py' for m in missing)}. Add "
        "SMOKE_ARGS = [tiny arguments] (run by tests/test_benchmarks.py), or SMOKE_TEST = "
        "'tests/test_x.py::test_name' naming the test that runs it"
    )


@pytest.mark.parametrize("name", sorted(SMOKE_ARGS))
def test_smoke_args_are_a_list_of_strings(name):
    args = SMOKE_ARGS[name]
    assert isinstance(args, list) and args and all(isinstance(a, str) for a in args), (
        f"benchmarks/{name}.py: SMOKE_ARGS must be a non-empty list of strings, got {args!r}"
    )


@pytest.mark.parametrize("name", sorted(SMOKE_TESTS))
def test_smoke_test_named_elsewhere_runs_the_script(name):
    where, _, function = SMOKE_TESTS[name].partition("::")
    path = REPO / where
    assert path.parent == REPO / "tests" and path.is_file(), f"benchmarks/{name}.py: no test file {where}"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tests = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert function in tests, f"benchmarks/{name}.py: {where} defines no {function}"
    strings = {node.value for node in ast.walk(tests[function]) if isinstance(node, ast.Constant)}
    assert any(name in s for s in strings if isinstance(s, str)), (
        f"{SMOKE_TESTS[name]} does not name the script {name!r}: is it the smoke run of benchmarks/{name}.py?"
    )


# --------------------------------------------------------------------------------------------
# The smoke runs
# --------------------------------------------------------------------------------------------


def _snapshot() -> dict[str, tuple[int, int]]:
    """``{path: (size, mtime_ns)}`` of every file under :data:`UNTOUCHED`."""
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns)
        for folder in UNTOUCHED
        if folder.is_dir()
        for p in folder.rglob("*")
        if p.is_file()
    }


def run_smoke(name: str, tmp: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    """Runs ``benchmarks/<name>.py *SMOKE_ARGS`` in ``tmp``: ``(process, wall seconds, CPU seconds)``."""
    args = [a.replace("{tmp}", str(tmp)).replace("{repo}", str(REPO)) for a in SMOKE_ARGS[name]]
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
    }
    env.setdefault("OMP_NUM_THREADS", "1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return process, wall, cpu


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMOKE_ARGS))
def test_smoke_run(name, tmp_path):
    before = _snapshot()
    process, wall, cpu = run_smoke(name, tmp_path)
    print(f"smoke run of benchmarks/{name}.py: {wall:.1f} s wall, {cpu:.1f} s CPU")
    assert process.returncode == 0, f"benchmarks/{name}.py failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"
    assert process.stdout.strip(), f"benchmarks/{name}.py printed nothing"
    assert _snapshot() == before, f"benchmarks/{name}.py wrote into {', '.join(map(str, UNTOUCHED))}"
    outputs = {}
    for arg in SMOKE_ARGS[name]:
        if arg.startswith("{tmp}") and arg.endswith(".json"):
            path = Path(arg.replace("{tmp}", str(tmp_path)))
            assert path.is_file(), f"benchmarks/{name}.py did not write {path.name}"
            outputs[path.name] = json.loads(path.read_text(encoding="utf-8"))
            assert isinstance(outputs[path.name], dict) and outputs[path.name], f"{path.name}: empty"
    if name in CHECKS:
        CHECKS[name](outputs, tmp_path)
    assert cpu < SMOKE_CPU_SECONDS, f"the smoke run of benchmarks/{name}.py took {cpu:.0f} CPU seconds: make it tinier"


# --------------------------------------------------------------------------------------------
# What each script's output must hold (beyond parsing)
# --------------------------------------------------------------------------------------------


def _bound_terms_add_up(row: dict) -> None:
    """NELBO = KL + Rec, up to the two-decimal rounding of the JSON; KL >= 0."""
    assert row["nelbo"] == pytest.approx(row["kl"] + row["rec"], abs=0.02), row
    assert row["kl"] >= -0.01 and row["rec"] > 0, row


def _check_01(outputs, tmp):
    out = outputs["01_vae.json"]
    assert out["chapter"] == "01_vae" and out["steps"] == 20 and out["model"]["z_dim"] == 10
    assert list(out["results"]) == ["embedded MNIST test split (1,000 digits)"], "the real MNIST set was skipped"
    _bound_terms_add_up(out["results"]["embedded MNIST test split (1,000 digits)"])


def _check_02(outputs, tmp):
    out = outputs["02_gmvae.json"]
    assert out["chapter"] == "02_gmvae" and out["model"]["k"] == 10
    for row in [*out["results"].values(), *out["baseline_vae"]["results"].values()]:
        _bound_terms_add_up(row)
    used, perplexity = out["components"]["used"], out["components"]["perplexity"]
    assert 1 <= used <= 10 and 1 <= perplexity <= 10 + 0.05, out["components"]


def _check_03(outputs, tmp):
    out = outputs["03_iwae.json"]
    assert out["config"]["iw"] == [1, 3] and out["config"]["n_test"] == 20
    assert out["config"]["steps"] == {"vae": 10, "gmvae": 10, "experiment": [10]}
    assert [r["model"] for r in out["results"]] == [
        "VAE (10 steps)",
        "GMVAE K=500 (10 steps)",
        "VAE, ELBO (10 steps)",
        "VAE, IWAE iw=5 (10 steps)",
    ]
    for row in out["results"]:
        assert row["n_images"] == 20 and set(row["niwae"]) == {"1", "3"}, row
        assert all(math.isfinite(v) and v > 0 for v in row["niwae"].values()), row
    # The experiment's ELBO-trained VAE is the chapter's VAE (one checkpoint, loaded the second time);
    # its IWAE-trained twin is another model.
    vae, _, elbo, iwae = (r["niwae"] for r in out["results"])
    assert vae == elbo and iwae != elbo
    assert sorted(p.name for p in (tmp / "runs").iterdir()) == [
        "gmvae-z_dim10-k500-10steps-seed0.pt",
        "iwae5-vae-z_dim10-10steps-seed0.pt",
        "vae-z_dim10-10steps-seed0.pt",
    ]


def _check_04(outputs, tmp):
    out = outputs["04_ssvae.json"]
    assert out["chapter"] == "04_ssvae" and (out["labels"], out["unlabelled"]) == (100, 3900)
    assert (out["augment"], out["ema"], out["class_weight"]) == (True, 0.999, 100.0), "the recipe's defaults"
    assert set(out["runs"]) == {"gen_weight=0", "gen_weight=1"}
    assert set(out["results"]) == {f"embedded MNIST test split (1,000 digits), gen_weight={g}" for g in (0, 1)}
    for row in out["results"].values():
        assert row["n"] == 1000 and 0 <= row["accuracy"] <= 100, row


def _check_05(outputs, tmp):
    out = outputs["05_fsvae.json"]
    assert out["chapter"] == "05_fsvae" and out["steps"] == 10
    (row,) = out["results"].values()
    assert row["n"] == 1000
    _bound_terms_add_up(row)
    assert (tmp / "05_fsvae_grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _check_train_speed(outputs, tmp):
    out = outputs["train_speed.json"]
    variants = [
        "vaelab",
        "plain",
        "vaelab + progress bar",
        "plain + fused Adam",
        "plain + in-memory batches",
        "plain + both",
    ]
    assert sorted(out["steps_per_sec"]) == sorted(variants) and out["threads"] == 1
    assert all(len(v) == 2 for v in out["steps_per_sec"].values()), "one speed per round"
    medians = out["median_steps_per_sec"]
    assert out["ratio"] == pytest.approx(medians["vaelab"] / medians["plain"])
    for parts in out["breakdown_ms"].values():
        assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"))


def _check_grading_speed(outputs, tmp):
    out = outputs["grading.json"]
    assert out["students"] == 1 and out["chapters"] == ["00_toy"] and list(out["runs"]) == ["1"]
    run = out["runs"]["1"]
    assert run["seconds_per_submission_per_core"] == pytest.approx(run["wall_seconds"], abs=0.1), "1 job, 1 student"
    assert (out["speedup"], out["efficiency"]) == (1.0, 1.0), "--jobs 1 against itself"


#: Script stem -> ``check(outputs: {json file name: parsed}, tmp: Path)``, run after the generic checks.
CHECKS = {
    "results_01_vae": _check_01,
    "results_02_gmvae": _check_02,
    "results_03_iwae": _check_03,
    "results_04_ssvae": _check_04,
    "results_05_fsvae": _check_05,
    "train_speed": _check_train_speed,
    "grading_speed": _check_grading_speed,
}


def test_checks_name_scripts_with_smoke_args():
    assert set(CHECKS) <= set(SMOKE_ARGS), sorted(set(CHECKS) - set(SMOKE_ARGS))


# --------------------------------------------------------------------------------------------
# The SSVAE recipe that results_04_ssvae.py (and chapter 4's notebook) trains with
# --------------------------------------------------------------------------------------------


def test_ssvae_recipe_loss_weights_the_two_terms():
    import torch

    from vaelab.data import one_hot
    from vaelab.models import SSVAE
    from vaelab.recipes import SSVAERecipe, ssvae_loss
    from vaelab.reference import ssvae_classification_loss, ssvae_negative_elbo_bound

    torch.manual_seed(0)
    model = SSVAE(z_dim=3)
    xu, xl = torch.bernoulli(torch.rand(5, 784)), torch.bernoulli(torch.rand(4, 784))
    yl = one_hot(torch.tensor([0, 1, 2, 9]))
    loss_fn = ssvae_loss(
        SSVAERecipe(gen_weight=0.5, class_weight=7.0), ssvae_negative_elbo_bound, ssvae_classification_loss
    )
    torch.manual_seed(1)
    loss, metrics = loss_fn(model, (xu, xl, yl))
    torch.manual_seed(1)
    ce = ssvae_classification_loss(model, xl, yl)
    nelbo = ssvae_negative_elbo_bound(model, xu)[0]
    assert loss.item() == pytest.approx(0.5 * nelbo.item() + 7.0 * ce.item(), rel=1e-6)
    assert set(metrics) == {"nelbo", "kl_z", "kl_y", "rec", "ce"}

    def no_bound(model, x):
        raise AssertionError("gen_weight = 0 must not compute the bound")

    loss, metrics = ssvae_loss(SSVAERecipe(gen_weight=0.0, class_weight=7.0), no_bound, ssvae_classification_loss)(
        model, (xu, xl, yl)
    )
    assert loss.item() == pytest.approx(7.0 * ce.item(), rel=1e-6) and set(metrics) == {"ce"}


def test_ssvae_recipe_split_and_batches():
    import torch

    from vaelab.data import load_dataset
    from vaelab.recipes import SSVAERecipe, semi_supervised_batches, semi_supervised_split

    x, y = load_dataset("mnist-embedded", split="train")
    recipe = SSVAERecipe(labels_per_class=3, batch_size=8)
    x_unl, x_lab, y_lab = semi_supervised_split(x, y, recipe)
    assert torch.equal(torch.bincount(y_lab, minlength=10), torch.full((10,), 3))
    assert len(x_unl) + len(x_lab) == len(x)
    assert not (x_unl[:, None, :] == x_lab[None, :, :]).all(-1).any(), "a labelled digit is also unlabelled"
    xu, xl, yl = next(semi_supervised_batches(x_unl, x_lab, y_lab, recipe))
    assert xu.shape == (8, 784) and xl.shape == (8, 784) and yl.shape == (8, 10)
    assert set(xu.unique().tolist()) <= {0.0, 1.0} and torch.equal(yl.sum(-1), torch.ones(8))
