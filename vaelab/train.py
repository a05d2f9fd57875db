"""Training: one fast, general loop for every chapter's model.

* :func:`train` runs Adam on any ``loss_fn(model, batch) -> (loss, metrics)`` over any stream of
  batches and returns a :class:`History`.
* :mod:`vaelab.registry` names each model's objective and recipe (``train_model``), and
  :mod:`vaelab.checkpoints` stores a trained model.
* :func:`fast_mode` / :func:`steps_for`: few steps when ``VAELAB_FAST=1`` or under nbgrader, and
  only a handful while the autograder grades (:func:`grading_mode`).

Shapes use the course alphabet: B batch, D data, Z latent.

Why the loop is fast (measured by ``benchmarks/train_speed.py``): batches come from in-memory
tensors (:class:`vaelab.data.Batches`, no ``DataLoader`` collating 100 examples one by one), Adam
runs fused (one kernel over all parameters instead of a Python loop over them), and the loss and
metrics are kept as detached tensors and turned into Python numbers only once per logging window,
so that on a GPU the host never waits for the device inside the loop.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = [
    "EMA",
    "History",
    "TrainingDivergedError",
    "train",
    "fast_mode",
    "grading_mode",
    "steps_for",
    "resolve_device",
    "to_device",
    "make_optimizer",
    "GradingAdam",
]

LossFn = Callable[[nn.Module, Any], "tuple[torch.Tensor, dict[str, Any]]"]

_EMA_DECAY = 0.98  # per step: the progress bar averages over roughly the last 50 steps


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite during training."""


# --------------------------------------------------------------------------------------------
# Fast mode
# --------------------------------------------------------------------------------------------


def fast_mode() -> bool:
    """True when training should be short: ``VAELAB_FAST=1`` (tests, CI) or under nbgrader.

    nbgrader sets ``NBGRADER_EXECUTION`` while it validates or autogrades a notebook.
    """
    flag = os.environ.get("VAELAB_FAST", "").strip().lower()
    return flag in {"1", "true", "yes", "on"} or "NBGRADER_EXECUTION" in os.environ


def grading_mode() -> bool:
    """True while the autograder grades the notebook: nbgrader's ``NBGRADER_EXECUTION=autograde``
    (``validate`` and ``VAELAB_FAST=1`` alone are plain :func:`fast_mode`)."""
    return os.environ.get("NBGRADER_EXECUTION") == "autograde"


#: Adam steps per training run while the autograder grades a notebook (:func:`grading_mode`). No
#: grade depends on training: the hidden tests call the answer functions on their own inputs.
#: The cells after training still run (a model of a few steps is a valid model), so a notebook
#: that cannot train still fails the same way; a class is hundreds of notebooks, and training
#: was most of their time (``benchmarks/grading_speed.py --breakdown``).
GRADING_STEPS = 3


def steps_for(default_steps: int, fast_steps: int = 300) -> int:
    """``default_steps``; in :func:`fast_mode`, at most ``fast_steps``; while the autograder
    grades the notebook (:func:`grading_mode`), at most :data:`GRADING_STEPS`."""
    if not fast_mode():
        return int(default_steps)
    steps = min(int(default_steps), int(fast_steps))
    if grading_mode():
        return min(steps, GRADING_STEPS)
    return steps


# --------------------------------------------------------------------------------------------
# Weight averaging
# --------------------------------------------------------------------------------------------


class EMA:
    """An exponential moving average of a module's weights (Polyak averaging).

    ``average = EMA(model.classifier, decay=0.999)`` keeps a frozen copy, ``average.module``;
    each ``average.update(model.classifier)`` moves every parameter and floating-point buffer
    of the copy towards the module's: ``w_avg <- decay * w_avg + (1 - decay) * w``. The averaged
    weights forget the noise of the last steps of stochastic training, which often makes them
    better on test data than the last weights. Use it with :func:`train`'s ``on_step``.

    Args:
        module: the module to average (copied; the copy is in eval mode, without gradients).
        decay: in [0, 1); about ``1 / (1 - decay)`` recent steps count (1,000 for 0.999).
    """

    def __init__(self, module: nn.Module, decay: float = 0.999):
        if not 0 <= decay < 1:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.module = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """One averaging step towards ``module``'s current weights (the same architecture)."""
        mine = list(self.module.parameters()) + [b for b in self.module.buffers() if b.is_floating_point()]
        theirs = list(module.parameters()) + [b for b in module.buffers() if b.is_floating_point()]
        if len(mine) != len(theirs):
            raise ValueError("EMA.update: the module does not have the averaged module's weights")
        for average, current in zip(mine, theirs):
            average.lerp_(current.detach().to(average.device), 1 - self.decay)

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


@dataclass
class History:
    """What happened during training: one record per logged step, and the speed.

    Attributes:
        records: list of ``{"step", "loss", <metrics>..., "time"}``; ``loss`` and the metrics are
            means over the steps since the previous record, ``step`` counts from 1 and goes on
            across calls of :func:`train` that continue this history, ``time`` is seconds of
            training so far.
        steps: optimisation steps taken in all.
        wall_time: seconds spent in the training loops.
        config: how the model was trained (filled by :func:`train_model`), plain values.

    ``history["kl"]`` is the list of a quantity over the records, ``history.steps_per_sec`` the speed.
    :meth:`as_dict` / :meth:`from_dict` convert to and from plain Python (for checkpoints, JSON).
    """

    records: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    wall_time: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def steps_per_sec(self) -> float:
        """Training speed over all the steps (0 before any)."""
        return self.steps / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def last(self) -> dict[str, float]:
        """The latest record (``{}`` before any)."""
        return dict(self.records[-1]) if self.records else {}

    def keys(self) -> list[str]:
        """The quantities recorded, in first-seen order (``step``, ``loss``, metrics, ``time``)."""
        seen: dict[str, None] = {}
        for record in self.records:
            seen.update(dict.fromkeys(record))
        return list(seen)

    def __getitem__(self, key: str) -> list[float]:
        if key not in self.keys():
            raise KeyError(f"{key!r} was not recorded; recorded: {self.keys()}")
        return [record[key] for record in self.records if key in record]

    def __len__(self) -> int:
        return len(self.records)

    def as_dict(self) -> dict[str, Any]:
        """Plain Python (lists, dicts, floats): what checkpoints and JSON files store."""
        return {
            "records": [dict(record) for record in self.records],
            "steps": int(self.steps),
            "wall_time": float(self.wall_time),
            "steps_per_sec": float(self.steps_per_sec),
            "config": dict(self.config),
        }

    to_dict = as_dict

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> History:
        """Inverse of :meth:`as_dict` (``steps_per_sec`` is recomputed, not read)."""
        return cls(
            records=[dict(record) for record in d.get("records", [])],
            steps=int(d.get("steps", 0)),
            wall_time=float(d.get("wall_time", 0.0)),
            config=dict(d.get("config") or {}),
        )

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v:.4g}" for k, v in self.last.items() if k not in ("step", "time"))
        return (
            f"History(steps={self.steps}, records={len(self.records)}, "
            f"{self.steps_per_sec:.1f} steps/s{', ' + last if last else ''})"
        )


# --------------------------------------------------------------------------------------------
# Devices and optimiser
# --------------------------------------------------------------------------------------------


def resolve_device(device=None) -> torch.device:
    """``None`` -> CUDA when available, else the CPU; ``"cuda"`` gets its index (``cuda:0``).

    The index matters: tensors report ``cuda:0`` and ``torch.device("cuda") != torch.device("cuda:0")``.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def to_device(batch, device: torch.device):
    """Move the tensors of a batch to ``device``: a tensor, or tuples/lists/dicts of them.

    Tensors already there are returned as they are (no copy); anything else passes through.
    """
    if isinstance(batch, torch.Tensor):
        return batch if batch.device == device else batch.to(device, non_blocking=True)
    if isinstance(batch, tuple):
        moved = [to_device(b, device) for b in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else tuple(moved)  # namedtuples
    if isinstance(batch, list):
        return [to_device(b, device) for b in batch]
    if isinstance(batch, Mapping):
        return type(batch)((k, to_device(v, device)) for k, v in batch.items())
    return batch


class GradingAdam:
    """Adam in a few tensor operations per parameter, without ``torch.optim``: what
    :func:`make_optimizer` returns while the autograder grades (:func:`grading_mode`).

    The update is ``torch.optim.Adam``'s with its defaults (betas 0.9 and 0.999, eps 1e-8, no
    weight decay): for a gradient ``g`` at step ``t``, ``m <- b1 m + (1 - b1) g``,
    ``v <- b2 v + (1 - b2) g^2`` and ``w <- w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
    Why not ``torch.optim.Adam`` there: creating the first ``torch.optim`` optimiser in a process
    imports ``torch._dynamo`` (2.7 s measured on the course machine), far more than the handful of
    steps a graded notebook trains (:data:`GRADING_STEPS`); every graded notebook is a new process.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.lr, (self.beta1, self.beta2), self.eps = float(lr), betas, float(eps)
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        correction1, correction2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:  # as torch.optim: a parameter without a gradient is left alone
                continue
            m.lerp_(p.grad, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
            denominator = (v / correction2).sqrt_().add_(self.eps)
            p.addcdiv_(m, denominator, value=-self.lr / correction1)


def make_optimizer(params: Iterable[torch.Tensor], lr: float = 1e-3):
    """Adam, fused when this build supports it for these parameters; :class:`GradingAdam` while
    the autograder grades (:func:`grading_mode`).

    The fused kernel updates every parameter in one pass; the default CPU implementation loops
    over parameters in Python (measured: about 0.4 ms instead of 1.2 ms per step for the
    CS236-sized VAE on two CPU cores). Same algorithm, so results agree to float rounding.
    """
    params = list(params)
    if grading_mode():
        return GradingAdam(params, lr=lr)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):  # e.g. a device or dtype without a fused kernel
        return torch.optim.Adam(params, lr=lr)


def _endless(batches) -> Iterable:
    """An iterator over ``batches`` that does not stop after one epoch when it need not.

    ``Batches`` objects give ``.forever()``; re-iterable collections (a list of batches, a
    DataLoader) are iterated again; a one-shot iterator is used as it is.
    """
    forever = getattr(batches, "forever", None)
    if callable(forever):
        return forever()
    if isinstance(batches, Iterator):  # an iterator or a generator: cannot be restarted
        return batches

    def again():
        while True:
            empty = True
            for batch in batches:
                empty = False
                yield batch
            if empty:
                return

    return again()


# --------------------------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------------------------


def _window_means(values: list) -> tuple[float, int | None]:
    """Mean of a window of per-step values (detached tensors or numbers) and the index of the
    first non-finite one (None if all are finite). One device-to-host transfer per window."""
    if all(isinstance(v, torch.Tensor) for v in values):
        # A non-scalar metric (say per-example values) is averaged over its elements.
        stacked = torch.stack([v if v.ndim == 0 else v.float().mean() for v in values]).double()
        per_step = stacked.tolist()
    else:
        per_step = [float(v) for v in values]
    bad = next((i for i, v in enumerate(per_step) if not math.isfinite(v)), None)
    return math.fsum(per_step) / len(per_step), bad


def training_threads(device: torch.device, threads: int | None = None) -> int | None:
    """The torch CPU thread count :func:`train` runs its loop with; None leaves torch's as it is.

    ``threads`` when given. Otherwise, on a CPU, one thread, unless the user chose a count with
    the environment variable ``OMP_NUM_THREADS`` (torch then already uses it: None). On a GPU, None.

    Why one: the course's networks are small, so a step is a few milliseconds of many short
    parallel regions, and with two threads each region waits for a thread that the OS may have
    parked. ``benchmarks/threads.py`` timed chapter 1's step on the 2-core course machine
    (``benchmarks/results/threads*.json``), in steps/s, one thread against torch's default of two:
    idle, 130 against 158; with a busy loop on one core, 118 against 32; with the machine loaded
    by other jobs (load average 12), 36 against 1.2. One thread is never far from the best; two
    can be 30 times slower, and a student's notebook shares the machine with a browser and more.
    """
    if threads is not None:
        if int(threads) < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        return int(threads)
    if torch.device(device).type != "cpu" or os.environ.get("OMP_NUM_THREADS", "").strip():
        return None
    return 1


def train(
    model: nn.Module,
    loss_fn: LossFn,
    batches,
    steps: int,
    lr: float = 1e-3,
    device=None,
    seed: int | None = 0,
    progress: bool = True,
    log_every: int = 50,
    history: History | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    on_step: Callable[[nn.Module, int], None] | None = None,
    threads: int | None = None,
) -> History:
    """Train ``model`` with Adam for ``steps`` steps and return the :class:`History`.

    Each step draws a batch, computes ``loss, metrics = loss_fn(model, batch)``, and takes one
    Adam step on ``loss``. Every ``log_every`` steps (and at the last step) the loss and metrics,
    averaged over the window, are appended to the history and shown on a progress bar as
    exponential moving averages.

    Seeding: ``torch.manual_seed(seed)`` is called first (``seed=None`` skips it), so that the
    reparameterisation noise drawn from the global generator repeats. Training is a top-level
    action, so it may set the global state; library functions such as
    :func:`vaelab.evaluate.evaluate` never do. The order of the batches and their binarisation
    come from ``batches`` itself (``Batches(..., seed=...)``).

    Args:
        model: any ``nn.Module``; moved to ``device`` and put in training mode (its previous mode
            is restored at the end).
        loss_fn: ``loss_fn(model, batch) -> (loss, metrics)``: ``loss`` a scalar tensor,
            ``metrics`` a dict of scalar tensors or numbers (e.g. ``{"kl": ..., "rec": ...}``).
            Tensors are detached here, so returning graph-attached values is fine.
        batches: a ``Batches`` (its ``.forever()`` is used), an endless iterator such as
            ``Batches(...).forever()``, or a re-iterable collection of batches (iterated again
            and again). A batch is a tensor ``(B, D)`` or a tuple/list/dict of tensors; it is
            moved to ``device`` when it is elsewhere.
        steps: number of optimisation steps.
        lr: Adam learning rate.
        device: ``"cpu"``, ``"cuda"``, ...; ``None`` picks CUDA when available.
        seed: see above.
        progress: show a tqdm progress bar (``tqdm.auto``: a widget in Jupyter); never while the
            autograder grades (:func:`grading_mode`).
        log_every: steps per history record.
        history: a history to continue (its step count goes on); a new one when None. To continue
            a run, pass a new ``seed`` (or None) so that the noise does not repeat, and the same
            ``optimizer`` to keep Adam's moment estimates.
        optimizer: an optimiser to continue with; a fresh fused Adam (:func:`make_optimizer`) when None.
        on_step: called as ``on_step(model, step)`` after each optimiser step (``step`` counts
            from 1 in this call), e.g. ``lambda model, step: average.update(model)`` with an
            :class:`EMA`.
        threads: torch CPU threads for the loop; None follows :func:`training_threads` (one
            thread on a CPU unless ``OMP_NUM_THREADS`` is set). The previous setting is restored
            when training ends.

    Returns:
        The history (the same object as ``history`` when one was given).

    Raises:
        TrainingDivergedError: the loss became NaN or infinite; the message names the first bad
            step. The check runs once per logging window (to avoid a device sync per step), so
            the weights may already hold NaNs: rebuild the model and retrain with a lower ``lr``.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if log_every < 1:
        raise ValueError(f"log_every must be >= 1, got {log_every}")
    progress = progress and not grading_mode()  # nobody watches a graded run (and tqdm.auto imports ipywidgets)
    if progress:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm  # a disabled bar: the plain class, without the notebook widget's imports

    device = resolve_device(device)
    threads = training_threads(device, threads)
    if seed is not None:
        torch.manual_seed(seed)
    history = History() if history is None else history
    was_training = model.training
    model.to(device)
    model.train()
    if optimizer is None:
        optimizer = make_optimizer(model.parameters(), lr)
    stream = iter(_endless(batches))

    first = history.steps  # global index of the step before this call's first
    losses: list = []  # detached per-step values of the current window
    metrics_window: dict[str, list] = {}
    ema: dict[str, float] = {}
    bar = tqdm(
        total=steps,
        disable=not progress,
        desc=f"train {getattr(model, 'name', '')}".strip(),
        unit="step",
        dynamic_ncols=True,
    )
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    done = 0
    try:
        for i in range(1, steps + 1):
            try:
                batch = next(stream)
            except StopIteration:
                raise ValueError(
                    f"the batches ran out after {i - 1} of {steps} steps; pass an endless stream "
                    "such as Batches(...).forever() or a re-iterable collection"
                ) from None
            batch = to_device(batch, device)
            loss, metrics = loss_fn(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done = i
            if on_step is not None:
                on_step(model, i)
            # Keep detached tensors: no .item() (a host-device sync on a GPU) inside the loop.
            losses.append(loss.detach())
            for name, value in metrics.items():
                metrics_window.setdefault(name, []).append(value.detach() if isinstance(value, torch.Tensor) else value)
            if i % log_every == 0 or i == steps:
                record = _log_window(history, first, i, losses, metrics_window, lr)
                record["time"] = history.wall_time + (time.perf_counter() - start)
                history.records.append(record)
                # EMA over steps, applied once per window: decay**n weights the old average.
                keep = _EMA_DECAY ** len(losses)
                for name, value in record.items():
                    if name not in ("step", "time"):
                        ema[name] = value if name not in ema else keep * ema[name] + (1 - keep) * value
                # A metric equal to the loss (the VAE's nelbo when beta = 1) is not shown twice.
                shown = {k: v for k, v in ema.items() if k == "loss" or record.get(k) != record["loss"]}
                bar.set_postfix({k: f"{v:.2f}" for k, v in shown.items()}, refresh=False)
                losses, metrics_window = [], {}
            bar.update(1)
    finally:
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # queued kernels belong to the measured time
        history.wall_time += time.perf_counter() - start
        history.steps += done
        bar.close()
        model.train(was_training)
        if threads is not None:
            torch.set_num_threads(previous_threads)
    return history


def _log_window(history: History, first: int, i: int, losses: list, metrics_window: dict, lr: float) -> dict:
    """The record of one logging window; raises :class:`TrainingDivergedError` on NaN/inf loss."""
    loss, bad = _window_means(losses)
    if bad is not None:
        step = first + i - len(losses) + 1 + bad
        raise TrainingDivergedError(
            f"the loss became {loss if not math.isfinite(loss) else 'non-finite'} at step {step} "
            f"(lr={lr:g}). Training diverged: rebuild the model and try a lower learning rate, "
            f"e.g. lr={lr / 3:.1e}, or check the loss function for log(0) or division by zero."
        )
    record = {"step": first + i, "loss": loss}
    for name, values in metrics_window.items():
        record[name] = _window_means(values)[0]
    return record
