"""The registry of trainable models: which chapter's objective trains and evaluates each, and how.

:data:`OBJECTIVES` maps a model name (``"vae"``, ``"gmvae"``) to an :class:`ObjectiveSpec`: the
chapter whose ``negative_elbo_bound`` is its loss (taken from :func:`vaelab.chapters.load`: the
reference in the instructor's source, the student's own function in a handout), whether its batches
carry labels, and its default number of steps. :func:`train_model` is the one call of the command
line and of chapter 3's notebook: it loads the data, builds the model and trains it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .chapters import load
from .train import History, resolve_device, steps_for, train

LossFn = Callable[[nn.Module, Any], "tuple[torch.Tensor, dict[str, Any]]"]

__all__ = ["ObjectiveSpec", "OBJECTIVES", "DEFAULT_STEPS", "objective_for", "train_model"]

# --------------------------------------------------------------------------------------------
# Objectives
# --------------------------------------------------------------------------------------------


def _images(batch) -> torch.Tensor:
    """The images of a batch: the batch itself, or its first element (``(x, y)`` tuples)."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _vae_objective(beta: float = 1.0) -> LossFn:
    """β-VAE loss ``rec + beta * kl`` with chapter 1's ``negative_elbo_bound`` (:func:`vaelab.chapters.load`).

    Metrics: ``nelbo = rec + kl`` (the bound itself, whatever ``beta``), ``kl``, ``rec``.
    """
    negative_elbo_bound = load("01_vae", "negative_elbo_bound")

    def loss_fn(model, batch):
        loss, kl, rec = negative_elbo_bound(model, _images(batch), beta)
        nelbo = loss if beta == 1.0 else rec + kl
        return loss, {"nelbo": nelbo, "kl": kl, "rec": rec}

    return loss_fn


def _gmvae_objective() -> LossFn:
    """GMVAE negative ELBO, single-sample KL, with chapter 2's ``negative_elbo_bound``."""
    negative_elbo_bound = load("02_gmvae", "negative_elbo_bound")

    def loss_fn(model, batch):
        nelbo, kl, rec = negative_elbo_bound(model, _images(batch))
        return nelbo, {"nelbo": nelbo, "kl": kl, "rec": rec}

    return loss_fn


@dataclass(frozen=True)
class ObjectiveSpec:
    """How :func:`train_model` trains one model.

    Attributes:
        factory: ``factory(**objective_kwargs) -> loss_fn``.
        chapter: the chapter whose ``negative_elbo_bound`` trains and evaluates the model.
        labels: the batches carry labels, ``(x, y)``, instead of images alone.
        binarize: dynamic binarisation of the images (Bernoulli likelihoods).
        default_steps: steps of a full (student-mode) run on the embedded data.
    """

    factory: Callable[..., LossFn]
    chapter: str
    labels: bool = False
    binarize: bool = True
    default_steps: int = 8_000


#: Trainable models: name -> :class:`ObjectiveSpec`. Adding a chapter's model is one entry here.
OBJECTIVES: dict[str, ObjectiveSpec] = {
    "vae": ObjectiveSpec(_vae_objective, "01_vae"),
    "gmvae": ObjectiveSpec(_gmvae_objective, "02_gmvae"),
}

#: Default training steps per model (full mode); :func:`steps_for` shortens them in fast mode.
DEFAULT_STEPS = {name: spec.default_steps for name, spec in OBJECTIVES.items()}

_EVALUATION_ONLY = {
    "iwae": "the IWAE bound is for evaluation: train a 'vae' or 'gmvae' and evaluate it with "
    "vaelab.evaluate.evaluate(model, x, objective='iwae', iw=...)",
}


def _spec(name: str) -> ObjectiveSpec:
    if name in OBJECTIVES:
        return OBJECTIVES[name]
    if name in _EVALUATION_ONLY:
        raise ValueError(f"{name!r} cannot be trained: {_EVALUATION_ONLY[name]}")
    raise ValueError(f"no training objective for {name!r}; trainable models: {sorted(OBJECTIVES)}")


def objective_for(name: str, **kwargs) -> LossFn:
    """The reference loss function of a model: ``loss_fn(model, batch) -> (loss, metrics)``.

    * ``"vae"`` (``beta=1.0``): ``rec + beta * kl`` with analytic KL; metrics ``nelbo``, ``kl``, ``rec``.
    * ``"gmvae"``: negative ELBO with a single-sample Monte Carlo KL; same metrics.
    * ``"iwae"`` is evaluation-only (ValueError saying so).

    ``batch`` is ``x: (B, D)`` or ``(x, y)``; the losses are batch means (nats per image).
    """
    factory = _spec(name).factory
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError:
        accepted = list(inspect.signature(factory).parameters)
        raise ValueError(f"objective {name!r} takes {accepted or 'no options'}, got {sorted(kwargs)}") from None
    return factory(**kwargs)


# --------------------------------------------------------------------------------------------
# One-call training
# --------------------------------------------------------------------------------------------


def _split_kwargs(name: str, kwargs: dict) -> tuple[dict, dict]:
    """Route keyword arguments to the model constructor or to the objective factory."""
    from .models import MODELS

    model_params = set(inspect.signature(MODELS[name].__init__).parameters) - {"self"}
    objective_params = set(inspect.signature(_spec(name).factory).parameters)
    model_kw = {k: v for k, v in kwargs.items() if k in model_params}
    objective_kw = {k: v for k, v in kwargs.items() if k in objective_params and k not in model_kw}
    unknown = sorted(set(kwargs) - set(model_kw) - set(objective_kw))
    if unknown:
        raise ValueError(
            f"{name!r} does not take {unknown}; model options: {sorted(model_params)}, "
            f"objective options: {sorted(objective_params) or 'none'}"
        )
    return model_kw, objective_kw


def train_model(
    name: str = "vae",
    steps: int | None = None,
    batch_size: int = 100,
    lr: float = 1e-3,
    seed: int = 0,
    dataset: str = "mnist-embedded",
    data_dir=None,
    download: bool = False,
    device=None,
    progress: bool = True,
    log_every: int = 50,
    **kwargs,
) -> tuple[nn.Module, History]:
    """Load the training split, build the model, train it: the one call of notebooks and the CLI.

    Example: ``model, history = train_model("vae", z_dim=10, steps=steps_for(10_000))``.

    Args:
        name: a key of :data:`OBJECTIVES` (``"vae"``, ``"gmvae"``, ...).
        steps: Adam steps; None takes :data:`DEFAULT_STEPS` (through :func:`steps_for`, so a few
            hundred in fast mode).
        batch_size: ``B``.
        lr: Adam learning rate.
        seed: seeds the initial weights (``torch.manual_seed``), the batch order and binarisation,
            and the training noise: the same seed gives the same model.
        dataset, data_dir, download: passed to :func:`vaelab.data.load_dataset`.
        device: ``None`` picks CUDA when available.
        progress: show a progress bar.
        log_every: steps per history record.
        **kwargs: model options (``z_dim``, ``k``, ``hidden``, ...) and objective options
            (``beta``). ``x_dim`` defaults to the dataset's ``D``.

    Returns:
        ``(model, history)``; ``history.config`` records these arguments (checkpoints store it).
    """
    from .data import Batches, load_dataset
    from .models import build_model

    spec = _spec(name)
    model_kw, objective_kw = _split_kwargs(name, kwargs)
    loss_fn = objective_for(name, **objective_kw)
    if steps is None:
        steps = steps_for(spec.default_steps)
    device = resolve_device(device)

    x, y = load_dataset(dataset, split="train", data_dir=data_dir, download=download)
    from .models import MODELS

    if "x_dim" in inspect.signature(MODELS[name].__init__).parameters:
        model_kw.setdefault("x_dim", x.shape[1])
    torch.manual_seed(seed)  # the initial weights
    model = build_model(name, **model_kw)
    batches = Batches(
        x,
        y if spec.labels else None,
        batch_size=batch_size,
        shuffle=True,
        binarize=spec.binarize,
        seed=seed,
        device=device,
    )
    history = History(
        config={
            "model": name,
            "model_config": dict(model.config),
            "objective": dict(objective_kw),
            "steps": int(steps),
            "batch_size": int(batch_size),
            "lr": float(lr),
            "seed": int(seed),
            "dataset": dataset,
            "device": str(device),
        }
    )
    train(
        model,
        loss_fn,
        batches.forever(),
        steps,
        lr=lr,
        device=device,
        seed=seed,
        progress=progress,
        log_every=log_every,
        history=history,
    )
    return model, history


# --------------------------------------------------------------------------------------------
