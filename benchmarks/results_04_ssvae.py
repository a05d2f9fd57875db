"""Chapter 4's results table: the SSVAE with 100 labels, trained as the notebook trains it, with and
without its generative term, evaluated on the embedded test split and on the real MNIST test set.

    python benchmarks/results_04_ssvae.py --data-dir ../shared/data/mnist --json benchmarks/results/04_ssvae.json

Data: 10 labels per class drawn from the 4,000 embedded MNIST training digits with
``labelled_subset(y_train, 10, seed=0)``; the other 3,900 training digits are used without their
labels. Training: ``vaelab.recipes.train_ssvae`` with the defaults of ``vaelab.recipes.SSVAERecipe``,
the recipe that ``solutions/04_ssvae.ipynb`` trains with: SSVAE (z = 64 by default, CS236 sizes),
Adam (lr 1e-3, seed 0), 9,000 steps; each step takes a batch of 100 unlabelled digits and the batch
of the 100 labelled ones, augmented (labelled: ``random_affine``, up to 20 degrees, 20 % scale, 0.2
shear, 4 pixels; unlabelled: ``random_shift`` by up to 1 pixel) and binarised afresh, and minimises
``gen_weight * nelbo(unlabelled) + class_weight * ce(labelled)`` with the library's reference
``ssvae_negative_elbo_bound`` (labels summed out) and ``ssvae_classification_loss``. With
``gen_weight = 0`` the bound is not computed: the classifier alone on 100 labels (augmented too).
The classifier evaluated is the exponential moving average of its weights (``EMA``, decay 0.999).
``--seed`` seeds the labelled subset, the initial weights, the batches and the training noise.
``--no-augment --ema 0 --steps 3000`` is plain M2 as CS236 trains it (the ablation in
``results/04_ssvae_no_augmentation.json``).

Evaluation: accuracy (in %) of ``argmax q(y|x)`` on a fixed, seeded binarisation of the 1,000
embedded test digits and of the real MNIST test set (10,000 images, the canonical t10k files,
disjoint from the embedded digits, which come from the MNIST training set).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from vaelab.data import fixed_binarization, load_dataset, load_mnist  # noqa: E402
from vaelab.recipes import SSVAERecipe, semi_supervised_split, train_ssvae  # noqa: E402
from vaelab.reference import ssvae_classification_loss, ssvae_negative_elbo_bound  # noqa: E402

LITERATURE = [
    ("CS236, gen_weight = 0", "full MNIST: 100 labels", "about 73.5"),
    ("CS236 SSVAE (class_weight = 100, 30k steps)", "full MNIST: 100 labels + 60k unlabelled", "93.4–94.9"),
    ("Kingma et al. 2014, M2", "full MNIST: 100 labels + 60k unlabelled", "88.0 (11.97 % error)"),
    ("Pyro SS-VAE tutorial", "full MNIST: 100 labels + 60k unlabelled", "93.2"),
]
#: Tiny arguments for the smoke run of tests/test_benchmarks.py ({tmp}: a fresh temporary folder).
SMOKE_ARGS = ["--steps", "4", "--z-dim", "4", "--data-dir", "{tmp}/no-mnist", "--json", "{tmp}/04_ssvae.json"]


def accuracy(classifier, x, y) -> float:
    """Accuracy in % of argmax q(y|x) (``classifier(x)``: logits) on a fixed binarisation of x."""
    with torch.no_grad():
        return 100 * (classifier(fixed_binarization(x, seed=0)).argmax(-1) == y).double().mean().item()


def parse_args(argv=None) -> argparse.Namespace:
    default = SSVAERecipe()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist", help="folder with t10k-*-ubyte.gz")
    parser.add_argument("--steps", type=int, default=default.steps)
    parser.add_argument(
        "--ema", type=float, default=default.ema_decay, help="decay of the classifier's weight average; 0: none"
    )
    parser.add_argument("--no-augment", action="store_true", help="plain M2: no augmentation")
    parser.add_argument("--z-dim", type=int, default=default.z_dim)
    parser.add_argument("--class-weight", type=float, default=default.class_weight)
    parser.add_argument("--gen-weights", type=float, nargs="+", default=[0.0, default.gen_weight])
    parser.add_argument("--seed", type=int, default=default.seed)
    parser.add_argument("--json", help="write the results here")
    return parser.parse_args(argv)


def evaluation_sets(data_dir: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{name: (x: (N, 784), y: (N,))}``: the embedded test split, and the real MNIST test set when present."""
    tests = {"embedded MNIST test split (1,000 digits)": load_dataset("mnist-embedded", split="test")}
    if Path(data_dir).exists():
        tests["real MNIST test set (10,000 images)"] = load_mnist(data_dir, split="test")
    else:
        print(f"{data_dir} not found: skipping the real MNIST test set")
    return tests


def print_table(results: dict, args: argparse.Namespace) -> None:
    print(f"\n{torch.get_num_threads()} thread(s), class_weight = {args.class_weight:g}, z = {args.z_dim}\n")
    print("| model | data | test accuracy (%) |\n|---|---|---|")
    for name, r in results.items():
        test_set, gen = name.rsplit(", ", 1)
        who = "classifier alone" if gen.endswith("=0") else f"SSVAE ({gen})"
        train_data = "100 labels" if gen.endswith("=0") else "100 labels + 3,900 unlabelled"
        print(f"| {who} | trained on embedded MNIST: {train_data}; tested on the {test_set} | {r['accuracy']:.1f} |")
    for who, data, acc in LITERATURE:
        print(f"| {who} | {data} | {acc} |")


def main(argv=None) -> int:
    args = parse_args(argv)
    recipe = SSVAERecipe(
        z_dim=args.z_dim,
        steps=args.steps,
        class_weight=args.class_weight,
        augment=not args.no_augment,
        ema_decay=args.ema,
        seed=args.seed,
    )
    data = semi_supervised_split(*load_dataset("mnist-embedded", split="train"), recipe)
    tests = evaluation_sets(args.data_dir)

    results, runs = {}, {}
    for gen_weight in args.gen_weights:
        start = time.perf_counter()
        _, classifier, _ = train_ssvae(
            replace(recipe, gen_weight=gen_weight),
            data,
            ssvae_negative_elbo_bound,
            ssvae_classification_loss,
            progress=False,
        )
        seconds = time.perf_counter() - start
        runs[f"gen_weight={gen_weight:g}"] = {
            "train_seconds": round(seconds, 1),
            "ms_per_step": round(1000 * seconds / args.steps, 1),
        }
        print(
            f"gen_weight = {gen_weight:g}: {args.steps} steps in {seconds:.0f} s "
            f"({1000 * seconds / args.steps:.1f} ms per step)",
            flush=True,
        )
        for name, (x, y) in tests.items():
            results[f"{name}, gen_weight={gen_weight:g}"] = {
                "accuracy": round(accuracy(classifier, x, y), 2),
                "n": len(y),
            }
    print_table(results, args)
    if args.json:
        x_unl, _, y_lab = data
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "chapter": "04_ssvae",
                    "model": {"z_dim": args.z_dim, "y_dim": 10, "x_dim": 784, "hidden": 300},
                    "labels": len(y_lab),
                    "unlabelled": len(x_unl),
                    "class_weight": args.class_weight,
                    "steps": args.steps,
                    "seed": args.seed,
                    "augment": not args.no_augment,
                    "ema": args.ema,
                    "runs": runs,
                    "threads": torch.get_num_threads(),
                    "machine": platform.machine(),
                    "torch": torch.__version__,
                    "results": results,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
