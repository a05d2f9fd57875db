"""Chapter 1's results table: the default VAE, trained as the notebook trains it, evaluated on the
embedded test split and on the real MNIST test set.

    python benchmarks/results_01_vae.py --data-dir ../shared/data/mnist --json benchmarks/results/01_vae.json

Training: VAE (z = 10, CS236 sizes), 8,000 Adam steps of batch 100 (lr 1e-3, seed 0) on the 4,000
embedded MNIST training digits with dynamic binarisation. Evaluation: NELBO, KL and Rec in nats per
image on a fixed, seeded binarisation (``vaelab.evaluate.evaluate``). The real MNIST test set (10,000
images, the canonical t10k files) is disjoint from the embedded digits, which come from the MNIST
training set.
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

from vaelab.data import load_dataset, load_mnist  # noqa: E402
from vaelab.evaluate import evaluate  # noqa: E402
from vaelab.registry import train_model  # noqa: E402

CS236 = {"nelbo": "100–101.5", "kl": "19.3", "rec": "82.5"}
#: Tiny arguments for the smoke run of tests/test_benchmarks.py ({tmp}: a fresh temporary folder).
SMOKE_ARGS = ["--steps", "20", "--data-dir", "{tmp}/no-mnist", "--json", "{tmp}/01_vae.json"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist", help="folder with t10k-*-ubyte.gz")
    parser.add_argument("--steps", type=int, default=8_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    model, history = train_model("vae", steps=args.steps, seed=args.seed, z_dim=10, progress=False)
    train_seconds = time.perf_counter() - start
    rows = {}
    x_test, _ = load_dataset("mnist-embedded", split="test")
    rows["embedded MNIST test split (1,000 digits)"] = evaluate(model, x_test)
    if Path(args.data_dir).exists():
        x_mnist, _ = load_mnist(args.data_dir, split="test")
        rows["real MNIST test set (10,000 images)"] = evaluate(model, x_mnist)
    else:
        print(f"{args.data_dir} not found: skipping the real MNIST test set")

    print(
        f"trained {args.steps} steps in {train_seconds:.0f} s ({history.steps_per_sec:.0f} steps/s, "
        f"{torch.get_num_threads()} thread(s))\n"
    )
    print("| test data | NELBO | KL | Rec |\n|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['nelbo']:.1f} | {r['kl']:.1f} | {r['rec']:.1f} |")
    print(f"| CS236 (full MNIST training set, 100 test images) | {CS236['nelbo']} | {CS236['kl']} | {CS236['rec']} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "chapter": "01_vae",
                    "model": dict(model.config),
                    "steps": args.steps,
                    "seed": args.seed,
                    "train_seconds": round(train_seconds, 1),
                    "threads": torch.get_num_threads(),
                    "machine": platform.machine(),
                    "torch": torch.__version__,
                    "results": {name: {k: round(v, 2) for k, v in r.items()} for name, r in rows.items()},
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
