"""Thread policy: chapter 1's VAE training step with one torch thread and with torch's default.

The loop is the one a student runs in chapter 1 (``vaelab.train.train``'s step): the CS236-sized
VAE (Z = 10, 784-300-300 MLPs), batches of 100 from ``Batches`` with dynamic binarisation, the
reference ``vae_negative_elbo_bound``, fused Adam at lr 1e-3. It is timed in two conditions:

* **idle**: the machine as it is (other users' jobs included; the load average is reported);
* **busy**: while a child process spins in a busy loop, holding one core, as another notebook,
  a grading job or a browser tab does on a student's 2-core laptop.

In each condition the thread counts take turns in interleaved rounds (the order reversed every
other round) of ``--seconds`` each, so a change in the machine's load hits every count. The
report gives the median steps/s of each count, per condition, and the ratio one thread / default
(> 1: one thread is faster). ``torch.set_num_threads`` is changed between rounds in this one
process; run it with ``OMP_NUM_THREADS`` unset so that "default" is torch's own choice.

    env -u OMP_NUM_THREADS .venv/bin/python benchmarks/threads.py
    env -u OMP_NUM_THREADS .venv/bin/python benchmarks/threads.py --rounds 5 --json benchmarks/results/threads.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from vaelab.data import Batches, load_dataset  # noqa: E402
from vaelab.models import VAE  # noqa: E402
from vaelab.registry import objective_for  # noqa: E402
from vaelab.train import make_optimizer  # noqa: E402

SMOKE_ARGS = ["--rounds", "1", "--seconds", "0.2", "--json", "{tmp}/threads.json"]  # tests/test_benchmarks.py


def _spin() -> None:
    """Hold one core until terminated."""
    while True:
        pass


class _Loop:
    """The chapter 1 training step, ready to run: model, optimiser, endless batches, loss."""

    def __init__(self, seed: int = 0):
        x, _ = load_dataset("mnist-embedded", split="train")
        torch.manual_seed(seed)
        self.model = VAE(z_dim=10).train()
        self.optimizer = make_optimizer(self.model.parameters(), 1e-3)
        self.batches = Batches(x, batch_size=100, seed=seed).forever()
        self.loss_fn = objective_for("vae")
        self.kept = []

    def step(self) -> None:
        loss, _ = self.loss_fn(self.model, next(self.batches))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.kept.append(loss.detach())  # as train() keeps it: no .item() per step
        if len(self.kept) >= 50:
            self.kept = [torch.stack(self.kept).mean()]

    def speed(self, threads: int, seconds: float) -> float:
        """Steps per second with ``threads`` torch threads, over about ``seconds`` of wall time."""
        torch.set_num_threads(threads)
        start, steps = time.perf_counter(), 0
        while (elapsed := time.perf_counter() - start) < seconds:
            self.step()
            steps += 1
        return steps / elapsed


def measure(loop: _Loop, counts: list[int], rounds: int, seconds: float) -> dict[int, list[float]]:
    """Interleaved rounds: ``{threads: [steps/s of each round]}``."""
    speeds = {n: [] for n in counts}
    for r in range(rounds):
        for n in counts if r % 2 == 0 else counts[::-1]:
            speeds[n].append(loop.speed(n, seconds))
    return speeds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per condition (default 3)")
    parser.add_argument("--seconds", type=float, default=4.0, help="wall seconds per round (default 4)")
    parser.add_argument(
        "--default-threads",
        type=int,
        default=None,
        help="the count to compare with one thread (default: torch's at start-up)",
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON")
    args = parser.parse_args(argv)

    default = args.default_threads or torch.get_num_threads()
    if os.environ.get("OMP_NUM_THREADS", "").strip() and args.default_threads is None:
        print(
            f"note: OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} is set, so 'default' is {default}; "
            "unset it to compare with torch's own choice",
            file=sys.stderr,
        )
    counts = [1] if default == 1 else [1, default]
    loop = _Loop()
    for n in counts:
        loop.speed(n, 1.0)  # warm-up: allocator, thread pool, fused Adam's first call

    results = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "default_threads": default,
        "conditions": {},
    }
    for condition in ("idle", "busy"):
        spinner = None
        if condition == "busy":
            spinner = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
            spinner.start()
            time.sleep(0.5)
        try:
            load = os.getloadavg()[0]
            speeds = measure(loop, counts, args.rounds, args.seconds)
        finally:
            if spinner is not None:
                spinner.terminate()
                spinner.join()
        medians = {n: statistics.median(v) for n, v in speeds.items()}
        results["conditions"][condition] = {
            "load_average_1min": load,
            "steps_per_sec": {str(n): v for n, v in speeds.items()},
            "median_steps_per_sec": {str(n): m for n, m in medians.items()},
            "ratio_one_over_default": medians[1] / medians[default],
        }

    print(
        f"{results['cpus']} CPUs, torch {results['torch']}, default threads {default}, "
        f"{args.rounds} rounds of {args.seconds:g} s"
    )
    print(
        f"{'condition':<10}{'load':>6}"
        + "".join(f"{f'{n} thr steps/s':>16}" for n in counts)
        + f"{'1 / default':>13}   rounds"
    )
    for condition, r in results["conditions"].items():
        cells = "".join(f"{r['median_steps_per_sec'][str(n)]:>16.1f}" for n in counts)
        rounds = "  ".join(f"{n}: " + ",".join(f"{v:.0f}" for v in r["steps_per_sec"][str(n)]) for n in counts)
        print(f"{condition:<10}{r['load_average_1min']:>6.2f}{cells}{r['ratio_one_over_default']:>13.2f}   {rounds}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
