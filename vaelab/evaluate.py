"""Repeatable evaluation of the bounds on a test set.

:func:`evaluate` reports the negative ELBO (or the negative IWAE bound) and its two terms as means
over a data set, in nats per image. It is a library function, so it never touches torch's global
random state: the binarisation is :func:`vaelab.data.fixed_binarization` with ``seed``, and the
latent samples come from a local ``torch.Generator`` seeded with ``seed``. The same call gives the
same numbers, and calling it does not change what a later ``torch.rand`` returns.

Shapes use the course alphabet: N examples, B batch, D data, S importance samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .chapters import call_with_generator, load
from .registry import OBJECTIVES

__all__ = ["evaluate", "evaluate_checkpoint", "MAX_ROWS", "row_budget"]

#: Rows (importance samples x images) per forward pass in an IWAE evaluation: about 200k rows of
#: 784 pixels keep the decoder's activations near 1 GB.
MAX_ROWS = 200_000
#: A mixture prior's log-density holds a ``(rows, K, Z)`` tensor per pass (``log_normal_mixture``):
#: rows are capped so that it stays near 200 MB (K = 500, Z = 10: 10,000 rows, not 200,000 = 4 GB).
MAX_MIXTURE_ELEMENTS = 50_000_000


def row_budget(model: nn.Module, max_rows: int) -> int:
    """``max_rows``, lowered for a mixture prior of ``model.k`` components in ``model.z_dim``
    dimensions so that ``rows * k * z_dim <= MAX_MIXTURE_ELEMENTS``."""
    k, z_dim = getattr(model, "k", None), getattr(model, "z_dim", None)
    if isinstance(k, int) and isinstance(z_dim, int) and k > 0 and z_dim > 0:
        return max(1, min(max_rows, MAX_MIXTURE_ELEMENTS // (k * z_dim)))
    return max_rows


def _elbo_call(name: str, bound: Callable, beta: float) -> Callable:
    """``call(model, x) -> (nelbo, kl, rec)``: the VAE's bound takes ``beta``, the GMVAE's does not."""
    if name == "vae":
        return lambda model, x: bound(model, x, beta)
    if beta != 1.0:
        raise ValueError("beta applies to the VAE only; the GMVAE bound has no beta")
    return bound


def _model_device(model: nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _iwae_single_image(model, x1, iw, max_rows, generator, bound):
    """``(-log p_hat(x), kl, rec)`` for one image ``x1: (1, D)`` with ``iw > max_rows`` samples.

    The samples are split into chunks of at most ``max_rows``. For one image the reference bound
    returns ``-log_mean_exp`` of the chunk's weights, and log-mean-exps combine exactly:
    ``log mean_all w = logsumexp_j(lme_j + log S_j) - log S``.
    """
    parts, kls, recs = [], [], []
    remaining = iw
    while remaining > 0:
        s = min(max_rows, remaining)
        niwae, kl, rec = call_with_generator(bound, model, x1, s, generator=generator)
        parts.append(-niwae.double() + math.log(s))
        kls.append(kl.item() * s)
        recs.append(rec.item() * s)
        remaining -= s
    log_mean = torch.logsumexp(torch.stack(parts), dim=0).item() - math.log(iw)
    return -log_mean, sum(kls) / iw, sum(recs) / iw


def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    objective: str = "elbo",
    iw: int = 1,
    batch_size: int = 500,
    seed: int = 0,
    beta: float = 1.0,
    max_rows: int = MAX_ROWS,
    bound: Callable | None = None,
) -> dict[str, float]:
    """Mean negative ELBO or IWAE bound of ``model`` on ``x``, with its KL and reconstruction terms.

    ``x`` is binarised once with :func:`vaelab.data.fixed_binarization` (``seed``), then split into
    batches; the objectives of :mod:`vaelab.reference` run on each with a local generator seeded
    with ``seed``, under ``torch.no_grad()`` and in eval mode (the model's mode is restored after).
    Batch means are weighted by batch sizes, so the result is the mean over all N images.

    * ``"elbo"``: ``nelbo = rec + beta * kl``; analytic KL for the VAE, one-sample Monte Carlo KL
      for the GMVAE (the chapter named by :data:`vaelab.registry.OBJECTIVES`).
    * ``"iwae"``: :math:`-\\log \\frac1S \\sum_s p(x, z_s) / q(z_s|x)` with ``S = iw`` samples;
      ``niwae <= nelbo`` in expectation and it tightens as ``iw`` grows. With ``iw = 1`` it is the
      ELBO with a Monte Carlo KL. Batches are cut so that ``iw * B <= max_rows``; for
      ``iw > max_rows`` each image's samples are split into chunks and combined exactly.

    Args:
        model: a VAE or GMVAE (``model.name``), on any device; ``x`` follows it.
        x: ``(N, D)`` intensities in [0, 1] (or already binary).
        objective: ``"elbo"`` or ``"iwae"``.
        iw: importance samples ``S`` for ``"iwae"``.
        batch_size: images per forward pass (at most; see ``max_rows``).
        seed: seed of the binarisation and of the latent samples.
        beta: KL weight of the VAE's ``"elbo"``.
        max_rows: memory budget of the IWAE, in rows of ``S * B`` (lowered for a mixture prior,
            see :func:`row_budget`).
        bound: the objective: ``negative_elbo_bound`` for ``"elbo"`` (with ``beta`` for a VAE),
            ``negative_iwae_bound(model, x, iw)`` for ``"iwae"``. A notebook passes its own; None
            takes the chapter's function from :func:`vaelab.chapters.load`.

    Returns:
        ``{"nelbo", "kl", "rec", "n"}`` for ``"elbo"``, ``{"niwae", "kl", "rec", "iw", "n"}`` for
        ``"iwae"``: floats in nats per image (``n`` the number of images).
    """
    from .data import fixed_binarization

    if objective not in ("elbo", "iwae"):
        raise ValueError(f"objective must be 'elbo' or 'iwae', got {objective!r}")
    iw, batch_size, max_rows = int(iw), int(batch_size), int(max_rows)
    if iw < 1 or batch_size < 1 or max_rows < 1:
        raise ValueError(f"iw, batch_size and max_rows must be >= 1, got {iw}, {batch_size}, {max_rows}")
    if objective == "elbo" and iw != 1:
        raise ValueError(f"iw={iw} needs objective='iwae'")
    name = getattr(model, "name", None)
    if objective == "elbo" and name not in OBJECTIVES:
        raise ValueError(f"no ELBO evaluation for model {name!r}; supported: {sorted(OBJECTIVES)}")
    if bound is None:
        bound = (
            load(OBJECTIVES[name].chapter, "negative_elbo_bound")
            if objective == "elbo"
            else load("03_iwae", "negative_iwae_bound")
        )
    call = _elbo_call(name, bound, beta) if objective == "elbo" else (lambda model, x: bound(model, x, iw))

    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty (N, D) tensor, got shape {tuple(x.shape)}")
    device = _model_device(model)
    max_rows = row_budget(model, max_rows)
    xb = fixed_binarization(x, seed=seed)
    generator = torch.Generator(device=device).manual_seed(seed)  # local: global state untouched
    n = len(xb)
    sums = {"bound": 0.0, "kl": 0.0, "rec": 0.0}

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if objective == "iwae" and iw > max_rows:
                for i in range(n):
                    values = _iwae_single_image(model, xb[i : i + 1].to(device), iw, max_rows, generator, bound)
                    for key, value in zip(sums, values):
                        sums[key] += value
            else:
                step = batch_size if objective == "elbo" else max(1, min(batch_size, max_rows // iw))
                for start in range(0, n, step):
                    batch = xb[start : start + step].to(device)
                    values = call_with_generator(call, model, batch, generator=generator)
                    for key, value in zip(sums, values):
                        sums[key] += value.item() * len(batch)  # batch means -> sums
    finally:
        model.train(was_training)

    bound = "nelbo" if objective == "elbo" else "niwae"
    result: dict[str, Any] = {bound: sums["bound"] / n, "kl": sums["kl"] / n, "rec": sums["rec"] / n}
    if objective == "iwae":
        result["iw"] = iw
    result["n"] = n
    return result


def evaluate_checkpoint(
    path,
    dataset: str | None = None,
    split: str = "test",
    data_dir=None,
    iw: int = 1,
    seed: int = 0,
    batch_size: int = 500,
    device=None,
    download: bool = False,
    objective: str | None = None,
) -> dict[str, Any]:
    """Load a checkpoint (:func:`vaelab.checkpoints.load_checkpoint`) and :func:`evaluate` it on a split.

    Args:
        path: the checkpoint.
        dataset: a :func:`vaelab.data.load_dataset` name; None takes the dataset the model was
            trained on (from the checkpoint), else ``"mnist-embedded"``.
        split: ``"test"`` or ``"train"``.
        data_dir, download: for the datasets kept in files.
        iw: importance samples; ``objective`` defaults to ``"elbo"`` for ``iw = 1`` and
            ``"iwae"`` above.
        seed, batch_size: as :func:`evaluate`.
        device: where to evaluate; None picks CUDA when available.

    Returns:
        The metrics of :func:`evaluate` plus ``"model"``, ``"dataset"`` and ``"split"``.

    Raises:
        FileNotFoundError / :class:`vaelab.checkpoints.CheckpointError`: a missing or unreadable checkpoint.
        :class:`vaelab.data.DataError`: the data cannot be loaded.
    """
    from .checkpoints import load_checkpoint
    from .data import load_dataset
    from .train import resolve_device

    model, info = load_checkpoint(Path(path), map_location=resolve_device(device))
    if dataset is None:
        dataset = (info.get("train_config") or {}).get("dataset", "mnist-embedded")
    x, _ = load_dataset(dataset, split=split, data_dir=data_dir, download=download)
    if objective is None:
        objective = "elbo" if iw == 1 else "iwae"
    metrics = evaluate(model, x, objective=objective, iw=iw, batch_size=batch_size, seed=seed)
    return {**metrics, "model": info["model"], "dataset": dataset, "split": split}
