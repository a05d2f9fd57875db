"""Training speed: the vaelab trainer against a plain PyTorch loop, on the same model and loss.

Both train the CS236-sized VAE (Z = 10, 784-300-300 MLPs, batch 100, Adam lr 1e-3, dynamic
binarisation) on the embedded MNIST digits with the reference ``vae_negative_elbo_bound``:

* **vaelab**: ``vaelab.train.train`` fed by ``vaelab.data.Batches(...).forever()``;
* **plain**: the loop of pytorch/examples/vae: a ``DataLoader(TensorDataset(x, y),
  batch_size=100, shuffle=True)``, ``torch.bernoulli`` per batch, ``optimizer.zero_grad();
  loss.backward(); optimizer.step()`` with the default ``torch.optim.Adam``, and
  ``train_loss += loss.item()`` every step as the example does (its every-10-batches log line is
  formatted but not printed, which only helps the baseline).

Each variant is warmed up, then the variants run in interleaved rounds (A, B, A, B, ...) so that
a change in the machine's load hits both; the report gives the median steps/sec of each and the
ratio vaelab / plain. ``--ablation`` adds the plain loop with one of vaelab's changes at a time, to
show where the speed comes from.

    python benchmarks/train_speed.py                    # 1000 steps, 3 rounds
    python benchmarks/train_speed.py --steps 2000 --rounds 5 --json bench.json
    python benchmarks/train_speed.py --ablation
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from vaelab.data import Batches, load_dataset  # noqa: E402
from vaelab.models import VAE  # noqa: E402
from vaelab.reference import vae_negative_elbo_bound  # noqa: E402
from vaelab.registry import objective_for  # noqa: E402
from vaelab.train import make_optimizer, resolve_device, train  # noqa: E402

BATCH_SIZE = 100
LR = 1e-3
Z_DIM = 10
LOG_INTERVAL = 10  # pytorch/examples/vae's default --log-interval
#: Tiny arguments for the smoke run of tests/test_benchmarks.py ({tmp}: a fresh temporary folder).
SMOKE_ARGS = [
    "--steps",
    "3",
    "--rounds",
    "2",
    "--warmup",
    "1",
    "--threads",
    "1",
    "--ablation",
    "--progress",
    "--breakdown",
    "--breakdown-steps",
    "4",
    "--json",
    "{tmp}/train_speed.json",
]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Clock:
    """Wall time and this process's CPU time (all threads) since creation."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def speeds(self, steps: int) -> tuple[float, float]:
        """``(steps per wall second, steps per CPU second)``."""
        return steps / (time.perf_counter() - self.wall), steps / (time.process_time() - self.cpu)


def run_vaelab(x, y, steps: int, device: torch.device, seed: int = 0, progress: bool = False) -> tuple[float, float]:
    """Steps per wall and per CPU second of ``vaelab.train.train`` (optimizer creation and the
    first batch included)."""
    torch.manual_seed(seed)
    model = VAE(z_dim=Z_DIM).to(device)
    batches = Batches(x, batch_size=BATCH_SIZE, shuffle=True, binarize=True, seed=seed, device=device)
    _sync(device)
    clock = _Clock()
    train(
        model,
        objective_for("vae"),
        batches.forever(),
        steps,
        lr=LR,
        device=device,
        seed=seed,
        progress=progress,
        log_every=50,
    )
    _sync(device)
    return clock.speeds(steps)


def run_plain(
    x, y, steps: int, device: torch.device, seed: int = 0, fused: bool = False, in_memory: bool = False
) -> tuple[float, float]:
    """Steps per wall and per CPU second of the pytorch/examples/vae loop.

    ``fused`` and ``in_memory`` (ablation only) swap in vaelab's fused Adam or its in-memory
    ``Batches`` (with the same ``torch.bernoulli`` here) for the DataLoader.
    """
    torch.manual_seed(seed)
    model = VAE(z_dim=Z_DIM).to(device)
    optimizer = make_optimizer(model.parameters(), LR) if fused else torch.optim.Adam(model.parameters(), lr=LR)
    if in_memory:
        loader = Batches(x, y, batch_size=BATCH_SIZE, shuffle=True, binarize=False, seed=seed, device=device)
    else:
        loader = DataLoader(TensorDataset(x, y), batch_size=BATCH_SIZE, shuffle=True)
    model.train()
    step, train_loss = 0, 0.0
    _sync(device)
    clock = _Clock()
    while step < steps:
        for batch_idx, (data, _) in enumerate(loader):
            data = data.to(device)
            data = torch.bernoulli(data)  # dynamic binarisation
            optimizer.zero_grad()
            loss, kl, rec = vae_negative_elbo_bound(model, data)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            if batch_idx % LOG_INTERVAL == 0:
                _ = f"Train Epoch: [{batch_idx * len(data)}/{len(x)}]\tLoss: {loss.item():.6f}"
            step += 1
            if step == steps:
                break
    _sync(device)
    return clock.speeds(steps)


def breakdown(x, y, device: torch.device, steps: int = 300, seed: int = 0) -> dict[str, dict[str, float]]:
    """Milliseconds per part of a step, for the plain loop and for vaelab's parts.

    The two loops take turns step by step (so they see the same machine load), each part is timed
    on its own, and the 20th percentile over ``steps`` is kept: other processes only ever add
    time, so a low percentile estimates the undisturbed cost even on a busy machine. The vaelab
    column times the parts as ``train`` runs them (Batches, the objective, backward, fused Adam,
    a detached loss kept instead of ``.item()``).
    """

    def clock(fn):
        _sync(device)
        start = time.perf_counter()
        out = fn()
        _sync(device)
        return out, 1000 * (time.perf_counter() - start)

    loops = {}
    for name in ("plain", "vaelab"):
        torch.manual_seed(seed)
        model = VAE(z_dim=Z_DIM).to(device)
        if name == "plain":
            optimizer = torch.optim.Adam(model.parameters(), lr=LR)
            loader = DataLoader(TensorDataset(x, y), batch_size=BATCH_SIZE, shuffle=True)
            stream = (b for _ in iter(int, 1) for b in loader)  # endless epochs

            def next_batch(stream=stream):
                return torch.bernoulli(next(stream)[0].to(device))
        else:
            optimizer = make_optimizer(model.parameters(), LR)
            stream = Batches(x, batch_size=BATCH_SIZE, seed=seed, device=device).forever()

            def next_batch(stream=stream):
                return next(stream)

        loops[name] = (model, optimizer, next_batch)

    loss_fn = objective_for("vae")
    parts = ("batch", "forward", "backward", "optimizer", "logging")
    times = {name: {part: [] for part in parts} for name in loops}
    kept = []
    for step in range(steps):
        for name in ("plain", "vaelab") if step % 2 == 0 else ("vaelab", "plain"):
            model, optimizer, next_batch = loops[name]
            data, t_batch = clock(next_batch)
            (loss, _), t_forward = clock(lambda: loss_fn(model, data))
            _, t_backward = clock(lambda: (optimizer.zero_grad(), loss.backward()))
            _, t_optimizer = clock(optimizer.step)
            _, t_logging = clock(lambda: kept.append(loss.item() if name == "plain" else loss.detach()))
            for part, t in zip(parts, (t_batch, t_forward, t_backward, t_optimizer, t_logging)):
                times[name][part].append(t)
    results = {}
    for name in loops:
        results[name] = {part: statistics.quantiles(v, n=5)[0] for part, v in times[name].items()}
        results[name]["total"] = sum(results[name].values())
    return results


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps per timed run (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed warm-up steps per variant")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for all variants (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--ablation", action="store_true", help="also time the plain loop with one change at a time")
    parser.add_argument("--progress", action="store_true", help="time vaelab with its progress bar on (to /dev/null)")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time each part of a step (20th percentile: robust on a busy machine)",
    )
    parser.add_argument("--breakdown-steps", type=int, default=300, help="steps of --breakdown (default 300)")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON")
    return parser.parse_args(argv)


def make_variants(args: argparse.Namespace, x, y, device: torch.device) -> dict:
    """``{name: run(steps) -> (steps/s, steps/cpu-s)}``: vaelab, plain, and the options' variants."""
    variants = {
        "vaelab": lambda n: run_vaelab(x, y, n, device),
        "plain": lambda n: run_plain(x, y, n, device),
    }
    if args.progress:

        def with_bar(n):
            # tqdm writes to stderr; send it nowhere so that the terminal is not the bottleneck.
            saved, sys.stderr = sys.stderr, open(os.devnull, "w")
            try:
                return run_vaelab(x, y, n, device, progress=True)
            finally:
                sys.stderr.close()
                sys.stderr = saved

        variants["vaelab + progress bar"] = with_bar
    if args.ablation:
        variants["plain + fused Adam"] = lambda n: run_plain(x, y, n, device, fused=True)
        variants["plain + in-memory batches"] = lambda n: run_plain(x, y, n, device, in_memory=True)
        variants["plain + both"] = lambda n: run_plain(x, y, n, device, fused=True, in_memory=True)
    return variants


def time_rounds(variants: dict, steps: int, rounds: int, warmup: int) -> tuple[dict, dict]:
    """``(speeds, cpu_speeds)``: ``{name: [steps/s of each round]}``, wall and CPU time."""
    for run in variants.values():  # warm-up: allocator, thread pool, code paths
        run(warmup)
    speeds: dict[str, list[float]] = {name: [] for name in variants}
    cpu_speeds: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(rounds):
        names = list(variants) if r % 2 == 0 else list(variants)[::-1]  # alternate the order too
        for name in names:
            wall, cpu = variants[name](steps)
            speeds[name].append(wall)
            cpu_speeds[name].append(cpu)
    return speeds, cpu_speeds


def summarise(speeds: dict, cpu_speeds: dict) -> dict:
    """Medians, best runs and the vaelab / plain ratios of :func:`time_rounds`' speeds."""
    medians = {name: statistics.median(v) for name, v in speeds.items()}
    best = {name: max(v) for name, v in speeds.items()}
    cpu_medians = {name: statistics.median(v) for name, v in cpu_speeds.items()}
    # Paired: the two runs of a round are adjacent in time, so their ratio cancels slow drifts
    # in the machine's load.
    paired = [a / b for a, b in zip(speeds["vaelab"], speeds["plain"])]
    return {
        "steps_per_sec": speeds,
        "median_steps_per_sec": medians,
        "best_steps_per_sec": best,
        "steps_per_cpu_sec": cpu_speeds,
        "median_steps_per_cpu_sec": cpu_medians,
        "ratio_cpu_time": cpu_medians["vaelab"] / cpu_medians["plain"],
        "ratio": medians["vaelab"] / medians["plain"],
        "ratio_best": best["vaelab"] / best["plain"],
        "ratio_per_round": paired,
        "ratio_paired_median": statistics.median(paired),
    }


def print_table(summary: dict) -> None:
    speeds, medians, best = summary["steps_per_sec"], summary["median_steps_per_sec"], summary["best_steps_per_sec"]
    cpu_medians, paired = summary["median_steps_per_cpu_sec"], summary["ratio_per_round"]
    width = max(len(n) for n in speeds)
    print(
        f"{'variant':<{width}}  {'steps/s':>7}  {'ms/step':>7}  {'vs plain':>8}  {'best':>6}  "
        f"{'steps/cpu-s':>11}  {'vs plain':>8}  steps/s of each round"
    )
    for name, values in speeds.items():
        runs = " ".join(f"{v:.0f}" for v in values)
        print(
            f"{name:<{width}}  {medians[name]:>7.1f}  {1000 / medians[name]:>7.2f}  "
            f"{medians[name] / medians['plain']:>7.2f}x  {best[name]:>6.1f}  "
            f"{cpu_medians[name]:>11.1f}  {cpu_medians[name] / cpu_medians['plain']:>7.2f}x  {runs}"
        )
    print("(medians over the rounds; steps/cpu-s: per second of this process's CPU time, all threads)")
    print(
        f"ratio vaelab / plain = {summary['ratio']:.2f} (median steps/s; per round "
        f"{' '.join(f'{r:.2f}' for r in paired)}, median {statistics.median(paired):.2f}; "
        f"best runs {summary['ratio_best']:.2f}; CPU time {summary['ratio_cpu_time']:.2f})"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    device = resolve_device(args.device)
    x, y = load_dataset("mnist-embedded", split="train")

    summary = summarise(*time_rounds(make_variants(args, x, y, device), args.steps, args.rounds, args.warmup))
    print(
        f"VAE z={Z_DIM}, batch {BATCH_SIZE}, {args.steps} steps x {args.rounds} rounds, "
        f"device {device}, {threads} torch threads, torch {torch.__version__}"
    )
    print_table(summary)

    parts = None
    if args.breakdown:
        parts = breakdown(x, y, device, steps=args.breakdown_steps)
        print(f"\nms per part of a step (20th percentile of {args.breakdown_steps} steps):")
        print(f"{'part':<10}  {'plain':>7}  {'vaelab':>7}")
        for part in parts["plain"]:
            print(f"{part:<10}  {parts['plain'][part]:>7.3f}  {parts['vaelab'][part]:>7.3f}")
        print(f"ratio of the totals plain / vaelab = {parts['plain']['total'] / parts['vaelab']['total']:.2f}")

    if args.json:
        result = {
            "benchmark": "train_speed",
            "steps": args.steps,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "device": str(device),
            "threads": threads,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            **summary,
            "breakdown_ms": parts,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
