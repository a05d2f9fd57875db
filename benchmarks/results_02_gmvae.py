"""Chapter 2 results: the GMVAE of the notebook, trained exactly as the notebook trains it.

Trains ``GMVAE(z_dim=10, k=500)`` on the 4,000 training digits of the embedded MNIST set with the
reference objective ``vaelab.reference.gmvae_negative_elbo_bound`` (what the solution notebook's
``negative_elbo_bound`` computes, drawing the same random numbers in the same order): Adam, learning
rate 1e-3, batches of 100 from ``Batches(x_train, batch_size=100, seed=0)``, ``torch.manual_seed(0)``
before building the model, ``train(..., seed=0)``, 6,000 steps. The VAE of chapter 1 is trained the
same way for comparison (``--no-vae`` skips it).

Both are evaluated with ``vaelab.evaluate.evaluate`` (fixed binarisation and seeded samples) on

* the 1,000 test digits of the embedded set (the notebook's table), and
* the real MNIST test set (10,000 images) read from ``--data-dir`` with
  ``vaelab.data.load_mnist(data_dir, split="test")``; skipped with a note when the files are missing.

Prints a Markdown table; ``--json FILE`` also writes the numbers (the GMVAE's under ``results``,
in the format of ``results_01_vae.py``, the VAE's under ``baseline_vae``). Run it from the
repository root with one thread, as the course does (about three minutes for both models)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/results_02_gmvae.py --json /tmp/02_gmvae.json
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/results_02_gmvae.py --steps 300 --no-vae   # a smoke run
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

from vaelab.data import Batches, DataError, load_dataset, load_mnist  # noqa: E402
from vaelab.evaluate import evaluate  # noqa: E402
from vaelab.models import GMVAE, VAE  # noqa: E402
from vaelab.plots_mixture import component_usage  # noqa: E402
from vaelab.reference import gmvae_negative_elbo_bound, vae_negative_elbo_bound  # noqa: E402
from vaelab.train import train  # noqa: E402

CS236 = {"gmvae": ("97–99", "", ""), "vae": ("100–101.5", "19.3", "82.5")}
TEST_SETS = ("embedded MNIST test split (1,000 digits)", "real MNIST test set (10,000 images)")
#: Tiny arguments for the smoke run of tests/test_benchmarks.py ({tmp}: a fresh temporary folder).
SMOKE_ARGS = ["--steps", "20", "--k", "10", "--data-dir", "{tmp}/no-mnist", "--json", "{tmp}/02_gmvae.json"]


def gmvae_loss(model, x):
    nelbo, kl, rec = gmvae_negative_elbo_bound(model, x)
    return nelbo, {"kl": kl, "rec": rec}


def vae_loss(model, x):
    nelbo, kl, rec = vae_negative_elbo_bound(model, x)
    return nelbo, {"kl": kl, "rec": rec}


def train_like_the_notebook(kind: str, x_train: torch.Tensor, steps: int, k: int, progress: bool):
    """The notebook's training cell for the GMVAE (``kind="gmvae"``) or its VAE baseline."""
    torch.manual_seed(0)
    model = GMVAE(z_dim=10, k=k) if kind == "gmvae" else VAE(z_dim=10)
    loss = gmvae_loss if kind == "gmvae" else vae_loss
    batches = Batches(x_train, batch_size=100, seed=0).forever()
    history = train(model, loss, batches, steps=steps, seed=0, progress=progress)
    return model, history


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        default="../shared/data/mnist",
        help="folder with the MNIST test files t10k-*-ubyte.gz (default: ../shared/data/mnist)",
    )
    parser.add_argument("--steps", type=int, default=6000, help="training steps (the notebook: 6000)")
    parser.add_argument("--k", type=int, default=500, help="mixture components (the notebook: 500)")
    parser.add_argument("--no-vae", action="store_true", help="skip the VAE baseline")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    args = parser.parse_args(argv)

    x_train, _ = load_dataset("mnist-embedded", split="train")
    test_sets = {TEST_SETS[0]: load_dataset("mnist-embedded", split="test")[0]}
    try:
        test_sets[TEST_SETS[1]] = load_mnist(args.data_dir, split="test")[0]
    except (DataError, FileNotFoundError, OSError) as error:
        print(f"skipping the real MNIST test set: {error}")

    kinds = ("gmvae",) if args.no_vae else ("gmvae", "vae")
    models = {kind: measure(kind, x_train, test_sets, args) for kind in kinds}
    print_table(models, args)
    if args.json:
        gmvae = models["gmvae"]
        payload = {
            "chapter": "02_gmvae",
            "model": gmvae["model"],
            "steps": args.steps,
            "seed": 0,
            "train_seconds": gmvae["train_seconds"],
            "threads": torch.get_num_threads(),
            "machine": platform.machine(),
            "torch": torch.__version__,
            "results": gmvae["results"],
            "components": gmvae["components"],
        }
        if "vae" in models:
            payload["baseline_vae"] = {
                "train_seconds": models["vae"]["train_seconds"],
                "results": models["vae"]["results"],
            }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.json}")
    return 0


def measure(kind: str, x_train: torch.Tensor, test_sets: dict, args: argparse.Namespace) -> dict:
    """Train one model as the notebook does and evaluate it on every test set (and the GMVAE's components)."""
    start = time.perf_counter()
    model, history = train_like_the_notebook(kind, x_train, args.steps, args.k, args.progress)
    seconds = time.perf_counter() - start
    entry = {
        "model": dict(model.config),
        "train_seconds": round(seconds, 1),
        "ms_per_step": round(1000 * history.wall_time / max(history.steps, 1), 2),
        "results": {
            name: {key: round(value, 2) for key, value in evaluate(model, x).items()} for name, x in test_sets.items()
        },
    }
    if kind == "gmvae":
        usage = component_usage(model, test_sets[TEST_SETS[0]])
        entry["components"] = {
            "used": usage["used"],
            "winners": usage["winners"],
            "perplexity": round(usage["perplexity"], 1),
        }
    print(
        f"{kind}: trained {args.steps} steps in {seconds:.0f} s ({entry['ms_per_step']} ms/step, "
        f"{torch.get_num_threads()} thread(s))",
        flush=True,
    )
    return entry


def print_table(models: dict, args: argparse.Namespace) -> None:
    print(f"\nChapter 2: {args.steps} steps on the 4,000 embedded MNIST training digits; nats per image\n")
    print("| model | test data | NELBO | KL | Rec |\n|---|---|---|---|---|")
    for kind, entry in models.items():
        name = f"GMVAE (K = {args.k})" if kind == "gmvae" else "VAE (chapter 1)"
        for test_set, r in entry["results"].items():
            print(f"| {name} | {test_set} | {r['nelbo']:.1f} | {r['kl']:.1f} | {r['rec']:.1f} |")
        nelbo, kl, rec = CS236[kind]
        cs236 = "CS236 GMVAE (K = 500)" if kind == "gmvae" else "CS236 VAE"
        print(f"| {cs236} | full MNIST training set, 100 test images | {nelbo} | {kl} | {rec} |")
    if "gmvae" in models:
        c = models["gmvae"]["components"]
        print(
            f"\nGMVAE components on the embedded test digits: {c['used']} of {args.k} used (share > 0.01/K), "
            f"{c['winners']} most responsible for some digit, perplexity {c['perplexity']}"
        )


if __name__ == "__main__":
    sys.exit(main())
