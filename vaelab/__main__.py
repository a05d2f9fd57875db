"""Command line of the course library.

::

    python -m vaelab train vae --steps 10000 --z-dim 10 --out runs/vae.pt
    python -m vaelab train gmvae --k 500
    python -m vaelab evaluate runs/vae.pt --iw 1000
    python -m vaelab download mnist --data-dir data

A data or checkpoint problem prints one line to stderr and exits with status 2 (no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    from .data import DATASETS
    from .registry import OBJECTIVES

    parser = argparse.ArgumentParser(prog="python -m vaelab", description="Train and evaluate the course's VAEs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="train a model and save a checkpoint",
        description="Train a model on the training split and save a checkpoint.",
    )
    train.add_argument(
        "model", choices=sorted(OBJECTIVES), metavar="MODEL", help=f"one of: {', '.join(sorted(OBJECTIVES))}"
    )
    train.add_argument(
        "--steps",
        type=int,
        default=None,
        help="Adam steps (default: the model's full run; a few hundred with VAELAB_FAST=1)",
    )
    train.add_argument("--batch-size", type=int, default=100)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--z-dim", type=int, default=None, help="latent dimension Z (default: the model's)")
    train.add_argument("--k", type=int, default=None, help="GMVAE mixture components")
    train.add_argument("--beta", type=float, default=None, help="VAE KL weight (beta-VAE)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--dataset", default="mnist-embedded", choices=DATASETS)
    train.add_argument("--data-dir", default=None, help="folder of the MNIST/SVHN files")
    train.add_argument("--download", action="store_true", help="download missing data files")
    train.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    train.add_argument("--out", default=None, help="checkpoint path (default: runs/MODEL.pt)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a checkpoint on a test set",
        description="Print the negative ELBO (or IWAE bound), KL and Rec in nats per image.",
    )
    evaluate.add_argument("checkpoint")
    evaluate.add_argument(
        "--dataset", default=None, choices=DATASETS, help="default: the dataset the model was trained on"
    )
    evaluate.add_argument("--split", default="test", choices=("train", "test"))
    evaluate.add_argument("--data-dir", default=None)
    evaluate.add_argument("--iw", type=int, default=1, help="importance samples (IWAE bound when > 1)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the binarisation and the samples")
    evaluate.add_argument("--device", default=None)
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")

    download = commands.add_parser(
        "download", help="download MNIST or SVHN", description="Download a dataset's files and verify their checksums."
    )
    download.add_argument("dataset", choices=("mnist", "svhn"))
    download.add_argument("--data-dir", default="data")
    return parser


def _train(args) -> int:
    from .checkpoints import save_checkpoint
    from .registry import train_model

    options = {"z_dim": args.z_dim, "k": args.k, "beta": args.beta}
    options = {k: v for k, v in options.items() if v is not None}
    model, history = train_model(
        args.model,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        dataset=args.dataset,
        data_dir=args.data_dir,
        download=args.download,
        device=_device(args.device),
        progress=not args.no_progress,
        **options,
    )
    out = Path(args.out) if args.out else Path("runs") / f"{args.model}.pt"
    save_checkpoint(out, model, history)
    last = history.last
    window = last.get("step", 0) - (history.records[-2]["step"] if len(history) > 1 else 0)
    metrics = "  ".join(f"{k}={v:.2f}" for k, v in last.items() if k not in ("step", "time"))
    print(
        f"{args.model}: {history.steps} steps, {history.steps_per_sec:.0f} steps/s; "
        f"training metrics (mean of the last {window} steps): {metrics}"
    )
    print(f"saved {out}")
    return 0


def _evaluate(args) -> int:
    from .evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(
        args.checkpoint,
        dataset=args.dataset,
        split=args.split,
        data_dir=args.data_dir,
        iw=args.iw,
        seed=args.seed,
        device=_device(args.device),
    )
    if args.json:
        print(json.dumps(result))
        return 0
    bound = f"NIWAE-{args.iw}" if "niwae" in result else "NELBO"
    value = result.get("niwae", result.get("nelbo"))
    print(
        f"{result['model']} on {result['dataset']} {result['split']} ({result['n']} images): "
        f"{bound} {value:.2f}  KL {result['kl']:.2f}  Rec {result['rec']:.2f}"
    )
    return 0


def _device(name: str | None) -> str | None:
    """The ``--device`` option, checked before any work: a device this PyTorch cannot use is a
    ValueError (one line, exit status 2) that says why and what to pass instead.

    Without the check, ``--device cuda`` on a CPU-only PyTorch fails deep inside torch with an
    ``AssertionError`` ("Torch not compiled with CUDA enabled") and a traceback.
    """
    if name is None:
        return None
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name}: not a device name; use cpu or cuda (or cuda:0, cuda:1, ...)") from None
    fix = "use --device cpu, or leave --device out to use a GPU only when PyTorch sees one"
    if device.type == "cuda":
        if torch.version.cuda is None and torch.version.hip is None:
            raise ValueError(
                f"--device {name}: this PyTorch {torch.__version__} is a CPU-only build, without "
                f"CUDA; {fix} (pytorch.org explains how to install a CUDA build)"
            )
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: PyTorch has CUDA but sees no GPU (no GPU, or no driver); {fix}")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: there are {torch.cuda.device_count()} GPU(s), numbered from 0")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: Apple's MPS is not available on this machine; {fix}")
    return name


def _download(args) -> int:
    from .data import download_mnist, download_svhn

    paths = (download_mnist if args.dataset == "mnist" else download_svhn)(args.data_dir)
    for path in paths:
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse errors raise ``SystemExit(2)``)."""
    args = _parser().parse_args(argv)
    handler = {"train": _train, "evaluate": _evaluate, "download": _download}[args.command]
    try:
        return handler(args)
    except Exception as error:
        status = None if os.environ.get("VAELAB_DEBUG") else _exit_status(error)
        if status is None:  # a bug, or VAELAB_DEBUG=1: the full traceback
            raise
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)  # one line
        return status


def _exit_status(error: BaseException) -> int | None:
    """The exit status of an expected error (the user's files or options), None for the rest."""
    from .data import DataError
    from .train import TrainingDivergedError

    if isinstance(error, TrainingDivergedError):
        return 1
    # DataError and FileNotFoundError: missing or corrupt data or checkpoint; ValueError (and
    # CheckpointError, one of them): a bad checkpoint or option, e.g. --beta for a GMVAE.
    if isinstance(error, (DataError, FileNotFoundError, ValueError)):
        return 2
    return None


if __name__ == "__main__":
    sys.exit(main())
