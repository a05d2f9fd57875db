"""Chapter 3 results: the IWAE bound -L_m of the chapter's models, on the embedded and the real MNIST test sets.

The models are those of the chapter 3 notebook, trained on the 4,000 training digits of the
embedded MNIST set with seed 0, batches of 100 and Adam at 1e-3:

* ``VAE``: chapter 1's VAE (Z = 10), 8,000 steps of the ELBO;
* ``GMVAE``: chapter 2's GMVAE (Z = 10, K = 500), 6,000 steps of the ELBO;
* ``VAE, ELBO (N steps)`` and ``VAE, IWAE iw=5 (N steps)`` for N in ``--experiment-steps``: the
  notebook's training experiment (3,000 steps there; 8,000 is chapter 1's length), the same initial
  weights and batches, only the objective differs; here the IWAE model is trained with the library's
  reference ``negative_iwae_bound``.

Checkpoints are shared with the notebook: ``runs/<model>-<options>-<steps>steps-seed0.pt`` (the
notebook writes the first three; this script writes the IWAE-trained one under an ``iwae5-`` name),
so a model trained by either is not trained again.

Every model is evaluated with :func:`vaelab.evaluate.evaluate` (``objective="iwae"``, fixed
binarisation and latent samples seeded with 0, at most ``--max-rows`` rows per forward pass) for
each ``m`` in ``--iw``, on the first ``--n-test`` images of

* the embedded test split (1,000 digits, disjoint from its 4,000 training digits), and
* the real MNIST test set (10,000 images) read from ``--data-dir`` with
  :func:`vaelab.data.load_mnist` (skipped, with a note, when the files are not there).

The same images are used for every ``m`` and every model. The script prints a Markdown table next to
the literature (CS236, Burda et al. 2016) and writes everything to ``--json``.

    python benchmarks/results_03_iwae.py                              # defaults: 1,000 test images
    python benchmarks/results_03_iwae.py --n-test 200 --json r3.json  # the notebook's subset
    python benchmarks/results_03_iwae.py --fast                       # a smoke test: 100 steps, m <= 10
    python benchmarks/results_03_iwae.py --fast --train-steps 10 --runs /tmp/runs   # quicker still
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from vaelab.checkpoints import load_checkpoint, save_checkpoint  # noqa: E402
from vaelab.data import Batches, DataError, load_dataset, load_mnist  # noqa: E402
from vaelab.evaluate import evaluate  # noqa: E402
from vaelab.models import VAE  # noqa: E402
from vaelab.reference import negative_iwae_bound  # noqa: E402
from vaelab.registry import train_model  # noqa: E402
from vaelab.train import train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CS236 = {"VAE": {1: 99.8, 10: 97.1, 100: 96.1, 1000: 95.6}, "GMVAE": {1: 97.2, 10: 94.7, 100: 93.8, 1000: 93.4}}
BURDA = {"VAE (ELBO-trained)": 86.76, "IWAE (trained with k = 50)": 84.78}
#: Tiny arguments for the smoke run of tests/test_benchmarks.py ({tmp}: a fresh temporary folder).
SMOKE_ARGS = [
    "--fast",
    "--train-steps",
    "10",
    "--iw",
    "1",
    "3",
    "--n-test",
    "20",
    "--runs",
    "{tmp}/runs",
    "--data-dir",
    "{tmp}/no-mnist",
    "--json",
    "{tmp}/03_iwae.json",
]


def _matches(info: dict, steps: int, options: dict) -> bool:
    config = info.get("train_config") or {}
    run = (config.get("steps"), config.get("seed"), config.get("batch_size"), config.get("lr"))
    same_run = run == (steps, 0, 100, 1e-3)
    return same_run and all((config.get("model_config") or {}).get(k) == v for k, v in options.items())


def trained(runs: Path, name: str, steps: int, **options):
    """The notebook's ``trained``: load ``runs/<name>-<options>-<steps>steps-seed0.pt`` or train and save it."""
    tag = "-".join(f"{key}{value}" for key, value in options.items())
    path = runs / f"{name}-{tag}-{steps}steps-seed0.pt"
    if path.exists():
        model, info = load_checkpoint(path)
        if _matches(info, steps, options):
            print(f"  {name}: loaded {path}", flush=True)
            return model
    start = time.perf_counter()
    model, history = train_model(name, steps=steps, seed=0, progress=False, **options)
    save_checkpoint(path, model, history)
    print(f"  {name}: trained for {steps} steps in {time.perf_counter() - start:.0f} s -> {path}", flush=True)
    return model


def trained_iwae(runs: Path, steps: int, iw: int):
    """A VAE (Z = 10) trained with the reference IWAE bound, with train_model's initial weights and batches."""
    path = runs / f"iwae{iw}-vae-z_dim10-{steps}steps-seed0.pt"
    if path.exists():
        model, info = load_checkpoint(path)
        if _matches(info, steps, {"z_dim": 10}) and (info["train_config"] or {}).get("objective") == {"iw": iw}:
            print(f"  IWAE: loaded {path}", flush=True)
            return model
    x, _ = load_dataset("mnist-embedded", split="train")
    torch.manual_seed(0)
    model = VAE(z_dim=10)

    def loss_fn(m, batch):
        niwae, kl, rec = negative_iwae_bound(m, batch, iw)
        return niwae, {"kl": kl, "rec": rec}

    start = time.perf_counter()
    history = train(
        model,
        loss_fn,
        Batches(x, batch_size=100, shuffle=True, binarize=True, seed=0).forever(),
        steps=steps,
        seed=0,
        progress=False,
    )
    history.config = {
        "model": "vae",
        "model_config": dict(model.config),
        "objective": {"iw": iw},
        "steps": steps,
        "batch_size": 100,
        "lr": 1e-3,
        "seed": 0,
        "dataset": "mnist-embedded",
        "device": "cpu",
    }
    save_checkpoint(path, model, history)
    print(f"  IWAE: trained for {steps} steps in {time.perf_counter() - start:.0f} s -> {path}", flush=True)
    return model


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=str(REPO.parent / "shared" / "data" / "mnist"),
        help="folder of the MNIST test files (t10k-images-idx3-ubyte.gz, ...)",
    )
    parser.add_argument("--n-test", type=int, default=1000, help="first N images of each test set (default 1000)")
    parser.add_argument("--iw", type=int, nargs="+", default=[1, 10, 100, 1000], help="values of m")
    parser.add_argument(
        "--experiment-steps",
        type=int,
        nargs="+",
        default=[3000, 8000],
        help="steps of the ELBO-vs-IWAE training experiment (3000 is the notebook's)",
    )
    parser.add_argument("--max-rows", type=int, default=10_000, help="rows (samples x images) per forward pass")
    parser.add_argument("--runs", default=str(REPO / "runs"), help="checkpoint folder shared with the notebook")
    parser.add_argument("--fast", action="store_true", help="100 training steps, m in {1, 10}, 100 images")
    parser.add_argument("--train-steps", type=int, help="train every model for this many steps (a smoke run)")
    parser.add_argument("--json", help="write the results here")
    return parser.parse_args(argv)


def chapter_models(runs: Path, steps: dict) -> dict:
    """``{label: model}``: the chapter's VAE and GMVAE, and the ELBO- and IWAE-trained pair per experiment length."""
    print("models (trained on the 4,000 training digits of the embedded MNIST set)", flush=True)
    models = {
        f"VAE ({steps['vae']} steps)": trained(runs, "vae", steps["vae"], z_dim=10),
        f"GMVAE K=500 ({steps['gmvae']} steps)": trained(runs, "gmvae", steps["gmvae"], z_dim=10, k=500),
    }
    for n in steps["experiment"]:
        models[f"VAE, ELBO ({n} steps)"] = trained(runs, "vae", n, z_dim=10)
        models[f"VAE, IWAE iw=5 ({n} steps)"] = trained_iwae(runs, n, 5)
    return models


def evaluation_sets(data_dir: str, n_test: int) -> dict:
    """``{name: x: (n_test, 784)}``: the embedded test split, and the real MNIST test set when present."""
    x, _ = load_dataset("mnist-embedded", split="test")
    sets = {"embedded MNIST test split": x[:n_test]}
    try:
        x, _ = load_mnist(data_dir, split="test")
        sets["MNIST test set"] = x[:n_test]
    except (DataError, FileNotFoundError, OSError) as error:
        print(f"note: real MNIST skipped ({error})", flush=True)
    return sets


def bounds(models: dict, sets: dict, iws: list[int], max_rows: int) -> list[dict]:
    """One row per (test set, model): ``-L_m`` and the seconds it took, for each m in ``iws``."""
    results = []
    for data, xs in sets.items():
        for label, model in models.items():
            row = {"model": label, "data": data, "n_images": len(xs), "niwae": {}, "seconds": {}}
            for m in iws:
                start = time.perf_counter()
                metrics = evaluate(model, xs, objective="iwae", iw=m, seed=0, max_rows=max_rows)
                row["niwae"][m] = metrics["niwae"]
                row["seconds"][m] = time.perf_counter() - start
            results.append(row)
            print(
                f"  {data:28s} {label:34s} "
                + "  ".join(f"m={m}: {row['niwae'][m]:.2f} ({row['seconds'][m]:.0f} s)" for m in iws),
                flush=True,
            )
    return results


def print_table(results: list[dict], iws: list[int]) -> None:
    header = "| model | data | " + " | ".join(f"-L_{m}" for m in iws) + " |"
    lines = [header, "|---|---|" + "---|" * len(iws)]
    for row in results:
        lines.append(
            f"| {row['model']} | {row['data']}, first {row['n_images']} images | "
            + " | ".join(f"{row['niwae'][m]:.2f}" for m in iws)
            + " |"
        )
    for label, values in CS236.items():
        lines.append(
            f"| CS236 {label} | full MNIST (60k training images), 100 test images | "
            + " | ".join(f"{values[m]:.1f}" if m in values else "-" for m in iws)
            + " |"
        )
    print()
    print("\n".join(lines))
    print(
        "\nBurda et al. (2016), one stochastic layer, full MNIST, 10,000 test images, m = 5,000: "
        + ", ".join(f"{k} {v}" for k, v in BURDA.items())
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    steps = {"vae": 8000, "gmvae": 6000, "experiment": sorted(set(args.experiment_steps))}
    iws, n_test = sorted(set(args.iw)), args.n_test
    if args.fast:
        steps = {"vae": 100, "gmvae": 100, "experiment": [100]}
        iws, n_test = [m for m in iws if m <= 10] or [1, 10], min(n_test, 100)
    if args.train_steps:
        steps = {"vae": args.train_steps, "gmvae": args.train_steps, "experiment": [args.train_steps]}

    models = chapter_models(Path(args.runs), steps)
    results = bounds(models, evaluation_sets(args.data_dir, n_test), iws, args.max_rows)
    print_table(results, iws)
    if args.json:
        payload = {
            "results": results,
            "literature": {"cs236": CS236, "burda2016": BURDA},
            "config": {
                "steps": steps,
                "iw": iws,
                "n_test": n_test,
                "max_rows": args.max_rows,
                "train_data": "mnist-embedded, 4,000 training digits",
                "seed": 0,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "machine": platform.machine(),
                "python": platform.python_version(),
            },
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
