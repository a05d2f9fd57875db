"""Checkpoints: a trained model with the configuration that rebuilds it and its training history."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .train import History

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be used (corrupt, wrong format, unknown model)."""


# Checkpoints
# --------------------------------------------------------------------------------------------


def save_checkpoint(path, model: nn.Module, history: History | None = None, train_config: dict | None = None) -> Path:
    """Write a checkpoint that :func:`load_checkpoint` can rebuild the model from.

    Stores ``{"format": 1, "model": model.name, "config": model.config, "state_dict",
    "history", "train_config"}`` with ``torch.save``; the tensors are moved to the CPU so that
    the file loads anywhere, and the history is plain Python. ``train_config`` defaults to
    ``history.config``. The file is written next to its destination and renamed into place, so an
    interrupted save never leaves a truncated checkpoint. Parent folders are created.

    Returns:
        The path written.
    """
    path = Path(path)
    for attribute in ("name", "config"):
        if not hasattr(model, attribute):
            raise TypeError(f"save_checkpoint needs a vaelab model with .{attribute}; got {type(model).__name__}")
    if train_config is None and history is not None:
        train_config = history.config or None
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model": model.name,
        "config": dict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": None if history is None else history.as_dict(),
        "train_config": None if train_config is None else dict(train_config),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path, map_location="cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model from a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the file.
        map_location: device of the loaded model (as in ``torch.load``).

    Returns:
        ``(model, info)``: the model in eval mode, and ``info`` with ``"model"`` (name),
        ``"config"``, ``"history"`` (a :class:`History` or None), ``"train_config"`` (dict or
        None), ``"format"`` and ``"path"``.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError (a ValueError): the file is not a readable vaelab checkpoint.
    """
    from .models import build_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        # weights_only: a checkpoint holds tensors and plain Python only, never arbitrary objects.
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many types for a corrupt or foreign file
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(error).__name__}); the file is truncated, "
            "corrupt or not a vaelab checkpoint: train again to recreate it"
        ) from error
    if not isinstance(payload, dict) or "format" not in payload:
        raise CheckpointError(f"{path}: not a vaelab checkpoint (no 'format' entry)")
    if payload["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {payload['format']!r}, this vaelab reads format {CHECKPOINT_FORMAT}"
        )
    missing = [k for k in ("model", "config", "state_dict") if k not in payload]
    if missing:
        raise CheckpointError(f"{path}: incomplete checkpoint, missing {missing}")
    try:
        model = build_model(payload["model"], **payload["config"])
        model.load_state_dict(payload["state_dict"])
    except (ValueError, TypeError, RuntimeError, KeyError) as error:
        raise CheckpointError(
            f"{path}: the checkpoint does not match its model {payload['model']!r}: {error}"
        ) from None
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)
    model.eval()
    history = payload.get("history")
    info = {
        "format": payload["format"],
        "model": payload["model"],
        "config": dict(payload["config"]),
        "history": None if history is None else History.from_dict(history),
        "train_config": payload.get("train_config"),
        "path": str(path),
    }
    return model, info
