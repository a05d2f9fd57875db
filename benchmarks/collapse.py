"""Posterior collapse, measured: active units and KL per dimension of the chapter-1 VAE, trained
with the plain ELBO and with a remedy (free bits), for a small and a larger latent space.

    OMP_NUM_THREADS=1 python benchmarks/collapse.py --json benchmarks/results/collapse.json \\
        --figures book/extra_figures

Training: the chapter-1 VAE (CS236 sizes) with z = 10 and z = 32, Adam (lr 1e-3, batch 100,
seed 0) on the 4,000 embedded MNIST training digits with dynamic binarisation, as the notebook
trains it, with

* ``elbo``: the negative ELBO, ``rec + KL``;
* ``free_bits``: ``rec + sum_j max(lambda, KL_j)`` (Kingma et al. 2016), ``KL_j`` the batch mean of
  dimension j's KL: below ``lambda`` nats a dimension's KL costs nothing, so the encoder is free to
  use it without the pull back towards the prior that makes it collapse;
* ``annealing`` (``--remedies annealing``): ``rec + beta_t KL`` with ``beta_t`` rising linearly
  from 0 to 1 over the first ``--warmup`` steps (Bowman et al. 2016).

Evaluation on the 1,000 embedded test digits, binarised once with seed 0 as ``vaelab.evaluate``
does: NELBO, KL and Rec (the true ELBO, whatever the training loss), active units
(``Var_x E_q[z_j|x] > 0.01``, Burda et al. 2015) and the KL of each dimension (``vaelab.latent``),
which adds up to the KL.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from vaelab import latent
from vaelab.data import Batches, fixed_binarization, load_dataset
from vaelab.evaluate import evaluate
from vaelab.models import VAE
from vaelab.reference import kl_normal, log_bernoulli_with_logits, sample_gaussian, vae_negative_elbo_bound
from vaelab.train import train

SMOKE_TEST = "tests/test_collapse_and_toy.py::test_collapse_benchmark_smoke"  # its smoke run (tests/test_benchmarks.py)


def per_dimension_kl(model, x):
    """``(rec, kl_j)``: the batch-mean reconstruction term and the ``(Z,)`` batch-mean KL per dimension."""
    qm, qv = model.encode(x)
    pm, pv = model.prior()
    z = sample_gaussian(qm, qv)
    rec = -log_bernoulli_with_logits(x, model.decode(z)).mean()
    kl_j = kl_normal(qm[..., None], qv[..., None], pm.expand_as(qm)[..., None], pv.expand_as(qv)[..., None])
    return rec, kl_j.mean(0)


def loss_for(method: str, free_bits: float, warmup: int, steps_done: list[int]):
    """``loss_fn(model, x) -> (loss, metrics)`` of one training method; ``steps_done[0]`` counts steps."""

    def loss_fn(model, x):
        rec, kl_j = per_dimension_kl(model, x)
        kl = kl_j.sum()
        if method == "elbo":
            loss = rec + kl
        elif method == "free_bits":
            loss = rec + kl_j.clamp_min(free_bits).sum()
        elif method == "annealing":
            loss = rec + min(1.0, steps_done[0] / max(1, warmup)) * kl
        else:
            raise ValueError(f"unknown method {method!r}")
        steps_done[0] += 1
        return loss, {"nelbo": rec + kl, "kl": kl, "rec": rec}

    return loss_fn


def run(z_dim: int, method: str, args, x_train, x_test) -> dict:
    """Train one model and measure it on the test split."""
    torch.manual_seed(args.seed)  # the initial weights, as in the notebook
    model = VAE(z_dim=z_dim)
    start = time.perf_counter()
    history = train(
        model,
        loss_for(method, args.free_bits, args.warmup, [0]),
        Batches(x_train, batch_size=100, seed=args.seed).forever(),
        steps=args.steps,
        seed=args.seed,
        progress=False,
        log_every=100,
    )
    seconds = time.perf_counter() - start
    result = evaluate(model, x_test, bound=vae_negative_elbo_bound)
    # The binarisation that evaluate() uses: the KL of each dimension then adds up to its KL.
    x_bin = fixed_binarization(x_test, seed=0)
    kl_j = latent.kl_per_dimension(model, x_bin, kl_normal)
    act = latent.activity(model, x_bin)
    return {
        "z_dim": z_dim,
        "method": method,
        "train_seconds": round(seconds, 1),
        "nelbo": round(result["nelbo"], 2),
        "kl": round(result["kl"], 2),
        "rec": round(result["rec"], 2),
        "active_units": int((act > latent.ACTIVE_THRESHOLD).sum()),
        "kl_per_dimension": [round(v, 4) for v in kl_j.tolist()],
        "activity": [float(f"{v:.4g}") for v in act.tolist()],
        "kl_curve": {"step": history["step"], "kl": [round(v, 3) for v in history["kl"]]},
        "_model": model,
    }


def figures(runs: list[dict], x_test, out: Path) -> list[str]:
    """SVG figures: KL per dimension and activity of every model; traversals of the largest plain model."""
    from vaelab import plots

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for z_dim in sorted({r["z_dim"] for r in runs}):
        mine = [r for r in runs if r["z_dim"] == z_dim]
        fig = plots.plot_kl_per_dimension(
            {r["method"]: torch.tensor(r["kl_per_dimension"]) for r in mine},
            activity={r["method"]: torch.tensor(r["activity"]) for r in mine},
            sort=True,
            title=f"VAE, z = {z_dim}: KL per dimension on the test split",
        )
        written.append(_save(fig, out / f"collapse_kl_z{z_dim}.svg"))
    for r in runs:
        if r["z_dim"] == max(q["z_dim"] for q in runs):
            order = sorted(range(r["z_dim"]), key=lambda j: -r["kl_per_dimension"][j])
            dims = order[:4] + order[-4:]  # the four most and the four least informative
            fig = plots.plot_traversal(
                r["_model"],
                fixed_binarization(x_test[:1], seed=0),
                dims=dims,
                title=f"z = {r['z_dim']}, {r['method']}: traversal, z_j =",
            )
            written.append(_save(fig, out / f"collapse_traversal_z{r['z_dim']}_{r['method']}.svg"))
    return written


def _save(fig, path: Path) -> str:
    fig.savefig(path, format="svg", metadata={"Date": None})  # no date: the file only changes with the data
    return str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8_000)
    parser.add_argument("--z-dims", type=int, nargs="+", default=[10, 32])
    parser.add_argument("--remedies", nargs="+", default=["free_bits"], choices=["free_bits", "annealing"])
    parser.add_argument("--free-bits", type=float, default=0.25, help="lambda, nats per dimension")
    parser.add_argument("--warmup", type=int, default=4_000, help="KL annealing steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--figures", help="write SVG figures into this folder")
    args = parser.parse_args(argv)

    x_train, _ = load_dataset("mnist-embedded", split="train")
    x_test, _ = load_dataset("mnist-embedded", split="test")
    runs = []
    for z_dim in args.z_dims:
        for method in ["elbo", *args.remedies]:
            r = run(z_dim, method, args, x_train, x_test)
            runs.append(r)
            print(
                f"z = {z_dim:3d} {method:10s} NELBO {r['nelbo']:7.2f} KL {r['kl']:6.2f} Rec {r['rec']:7.2f} "
                f"active {r['active_units']:2d}/{z_dim} ({r['train_seconds']:.0f} s)",
                flush=True,
            )
    written = figures(runs, x_test, Path(args.figures)) if args.figures else []
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "benchmark": "collapse",
                    "command": "OMP_NUM_THREADS=1 python " + shlex.join(sys.argv),
                    "steps": args.steps,
                    "seed": args.seed,
                    "free_bits": args.free_bits,
                    "warmup": args.warmup,
                    "active_threshold": latent.ACTIVE_THRESHOLD,
                    "test_set": "embedded MNIST test split (1,000 digits)",
                    "threads": torch.get_num_threads(),
                    "machine": platform.machine(),
                    "torch": torch.__version__,
                    "figures": written,
                    "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
